//! Shared by the benchmarks.

use std::net::SocketAddr;

use tokio::net::TcpListener;

/// Starts `serve` on a one-thread runtime of its own (one server core).
pub(crate) fn one_core_server<F>(
    serve: impl FnOnce(TcpListener) -> F + Send + 'static,
) -> SocketAddr
where
    F: std::future::Future<Output = ()> + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            serve(l).await;
        });
    });
    rx.recv().unwrap()
}
