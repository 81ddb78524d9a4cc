//! A panic anywhere in the server reaches the log file, not only stderr (its own test binary: logging is
//! process-global).

#[test]
fn a_panic_is_written_to_the_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    samokoder_engine::logging::init_to("warn", Some(&log));
    let joined = std::thread::Builder::new()
        .name("job".into())
        .spawn(|| panic!("receiver already dropped: a test panic"))
        .unwrap()
        .join();
    assert!(joined.is_err());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("panic: receiver already dropped: a test panic"), "{text}");
    assert!(text.contains("panic_hook.rs") && text.contains("thread=job"), "location and thread: {text}");
}
