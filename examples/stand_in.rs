//! Serves the stand-in GitHub API on 127.0.0.1 until stopped, printing its
//! URL: for benchmarks and for trying specs by hand.
//!
//!     cargo run --example stand_in

#[path = "support/stand_in.rs"]
mod stand_in;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let server = stand_in::start().await;
    println!("{}", server.uri());
    // Serve until killed.
    std::future::pending::<()>().await;
}
