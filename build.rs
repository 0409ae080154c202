fn main() {
    napi_build::setup();
    // Never unmap the addon: the expiry sweeper thread may still be running when the last
    // worker_thread that loaded it exits (rust-lang/rust#91979, napi-rs #3443). The target's OS, not
    // the host's: a build script runs on the host, and Apple's and Windows' linkers know no `-z`.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
}
