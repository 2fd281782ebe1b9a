//! livelake jobs
