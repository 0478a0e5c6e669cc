#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| clearwater_fuzz::subscription::subscription(data));
