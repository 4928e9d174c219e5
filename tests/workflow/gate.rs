//! A server on 127.0.0.1 that answers nothing by itself: each request is
//! handed to the test as it arrives ([`Gate::next`]) and held until the
//! test answers it ([`Held::answer`]). The test decides which request
//! finishes when, so concurrency and completion order are under its
//! control, never a matter of delays. It also counts requests in flight
//! (arrived, not yet answered) and the most there ever were at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::harness::raw::read_request;

/// The longest a test waits for a request it expects: a bound that fails
/// the test instead of hanging it, never a wait for something to happen.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct Gate {
    addr: SocketAddr,
    arrivals: mpsc::UnboundedReceiver<Held>,
    max: Arc<AtomicUsize>,
}

/// One request, held until answered.
pub struct Held {
    pub method: String,
    /// The path and query.
    pub target: String,
    pub body: Vec<u8>,
    /// Requests in flight when this one arrived, itself included.
    pub in_flight: usize,
    answer: oneshot::Sender<(u16, Value)>,
}

impl Held {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }

    /// Sends the response.
    pub fn answer(self, status: u16, body: Value) {
        let _ = self.answer.send((status, body));
    }
}

#[derive(Default)]
struct Counts {
    now: AtomicUsize,
    max: Arc<AtomicUsize>,
}

impl Gate {
    pub async fn start() -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, arrivals) = mpsc::unbounded_channel();
        let counts = Arc::new(Counts::default());
        let max = counts.max.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(serve(tcp, tx.clone(), counts.clone()));
            }
        });
        Gate {
            addr,
            arrivals,
            max,
        }
    }

    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next request to arrive; panics when none comes within [`PATIENCE`].
    pub async fn next(&mut self) -> Held {
        match tokio::time::timeout(PATIENCE, self.arrivals.recv()).await {
            Ok(Some(held)) => held,
            _ => panic!("no request arrived within {PATIENCE:?}"),
        }
    }

    /// The most requests that were ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

/// Serves one connection: each request is handed over and held until the
/// test answers it; the connection closes after each response.
async fn serve(mut tcp: TcpStream, tx: mpsc::UnboundedSender<Held>, counts: Arc<Counts>) {
    let Some((method, target, body)) = read_request(&mut tcp).await else {
        return;
    };
    let now = counts.now.fetch_add(1, Ordering::SeqCst) + 1;
    counts.max.fetch_max(now, Ordering::SeqCst);
    let (answer, answered) = oneshot::channel();
    let held = Held {
        method,
        target,
        body,
        in_flight: now,
        answer,
    };
    if tx.send(held).is_err() {
        counts.now.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let answered = answered.await;
    // No longer in flight once answered: the client starts another request
    // only after it reads this response, so the count never overstates.
    counts.now.fetch_sub(1, Ordering::SeqCst);
    let Ok((status, body)) = answered else {
        return;
    };
    let body = body.to_string();
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = tcp.write_all(head.as_bytes()).await;
    let _ = tcp.write_all(body.as_bytes()).await;
    let _ = tcp.shutdown().await;
}
