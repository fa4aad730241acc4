"""rflh: build, boot and test harness for the MADV_POPULATE Rust series."""
