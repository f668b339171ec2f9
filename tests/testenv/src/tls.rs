//! The process-wide TLS provider: one choice for every client a test or the
//! benchmark builds (kube-rs, the AWS SDK, reqwest).

/// Installs aws-lc-rs as the process's rustls provider unless one is set.
///
/// If any crate in a test binary enables a second rustls provider, rustls
/// cannot choose by itself and panics on the first TLS connection; aws-lc-rs
/// is the one kube and the AWS SDK use here. Call before building a client;
/// calling again (from any thread) is harmless.
pub fn install_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // An Err only means another thread installed one first: fine.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}
