#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| clearwater_fuzz::bodies::proxy(data));
