//! The project carries its own definitions: every relative link in the README and the docs
//! resolves to a file or folder of the repository.

use std::path::{Path, PathBuf};

/// Markdown files whose links must resolve: the README, BENCHMARKS.md and every `.md` under
/// `docs/` and `jobs/`.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    let mut out = vec![root.join("README.md"), root.join("BENCHMARKS.md")];
    walk(&root.join("docs"), &mut out);
    walk(&root.join("jobs"), &mut out);
    out
}

/// The targets of the inline links `[text](target)` of a Markdown text.
fn link_targets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find(')') else { break };
        out.push(rest[..end].split_whitespace().next().unwrap_or("").to_string());
        rest = &rest[end..];
    }
    out
}

#[test]
fn every_relative_link_in_the_readme_and_docs_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let files = markdown_files(&root);
    assert!(files.iter().any(|f| f.ends_with("docs/metrics.md")), "docs/metrics.md exists");
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for target in link_targets(&text) {
            if target.is_empty() || target.starts_with('#') || target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let path = target.split('#').next().unwrap();
            checked += 1;
            if !file.parent().unwrap().join(path).exists() {
                broken.push(format!("{}: {target}", file.strip_prefix(&root).unwrap_or(file).display()));
            }
        }
    }
    assert!(checked >= 5, "only {checked} relative links found");
    assert!(broken.is_empty(), "links that do not resolve:\n{}", broken.join("\n"));
}

#[test]
fn link_targets_are_found() {
    assert_eq!(
        link_targets("a [x](docs/a.md) b [y](../b.md#c) [z](https://e.org)"),
        ["docs/a.md", "../b.md#c", "https://e.org"]
    );
}
