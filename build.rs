fn main() {
    napi_build::setup();
    // Never unmap the addon: the expiry sweeper thread may still be running when the last
    // worker_thread that loaded it exits (rust-lang/rust#91979, napi-rs #3443).
    #[cfg(target_os = "linux")]
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
}
