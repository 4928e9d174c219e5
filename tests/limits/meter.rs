//! A server on 127.0.0.1 that measures what reaches it: when each request
//! arrived, how many were in flight then (arrived, not yet answered), and
//! the most there ever were. It answers each request at once with what its
//! script says ([`Meter::answering`]), or hands it to the test to answer
//! when it decides ([`Meter::holding`], [`Meter::next`]), so concurrency is
//! under the test's control, never a matter of delays.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::harness::raw::read_request;

/// The longest a test waits for a request it expects: a bound that fails
/// the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(20);

/// An answer: status, headers, JSON body.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Reply {
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: json!({}),
        }
    }

    pub fn header(mut self, name: &str, value: impl ToString) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: Value) -> Reply {
        self.body = body;
        self
    }
}

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub method: String,
    /// The path and query.
    pub target: String,
    /// Requests in flight when it arrived, itself included.
    pub in_flight: usize,
    pub at: Instant,
    pub wall: SystemTime,
}

/// A request held until the test answers it.
pub struct Held {
    pub arrival: Arrival,
    answer: oneshot::Sender<Reply>,
}

impl Held {
    pub fn answer(self, reply: Reply) {
        let _ = self.answer.send(reply);
    }
}

/// What a script answers to the `n`th request (from 0).
type Script = dyn Fn(usize, &Arrival) -> Reply + Send + Sync;

#[derive(Default)]
struct Log {
    now: AtomicUsize,
    max: AtomicUsize,
    arrivals: Mutex<Vec<Arrival>>,
}

pub struct Meter {
    addr: SocketAddr,
    held: mpsc::UnboundedReceiver<Held>,
    log: Arc<Log>,
}

impl Meter {
    /// Answers every request at once, as `script` says.
    pub async fn answering(
        script: impl Fn(usize, &Arrival) -> Reply + Send + Sync + 'static,
    ) -> Meter {
        Meter::start(Some(Arc::new(script))).await
    }

    /// Hands every request to the test ([`Meter::next`]).
    pub async fn holding() -> Meter {
        Meter::start(None).await
    }

    async fn start(script: Option<Arc<Script>>) -> Meter {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, held) = mpsc::unbounded_channel();
        let log = Arc::new(Log::default());
        let shared = log.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(serve(tcp, tx.clone(), shared.clone(), script.clone()));
            }
        });
        Meter { addr, held, log }
    }

    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next request held for the test; panics when none comes in time.
    pub async fn next(&mut self) -> Held {
        match tokio::time::timeout(PATIENCE, self.held.recv()).await {
            Ok(Some(held)) => held,
            _ => panic!("no request arrived within {PATIENCE:?}"),
        }
    }

    /// The most requests that were ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.log.max.load(Ordering::SeqCst)
    }

    /// Every request so far, in the order they arrived.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.log.arrivals.lock().expect("log").clone()
    }
}

/// Serves one connection: one request, answered by the script or the
/// test, then closed.
async fn serve(
    mut tcp: TcpStream,
    tx: mpsc::UnboundedSender<Held>,
    log: Arc<Log>,
    script: Option<Arc<Script>>,
) {
    let Some((method, target, _)) = read_request(&mut tcp).await else {
        return;
    };
    let now = log.now.fetch_add(1, Ordering::SeqCst) + 1;
    log.max.fetch_max(now, Ordering::SeqCst);
    let arrival = Arrival {
        method,
        target,
        in_flight: now,
        at: Instant::now(),
        wall: SystemTime::now(),
    };
    let n = {
        let mut arrivals = log.arrivals.lock().expect("log");
        arrivals.push(arrival.clone());
        arrivals.len() - 1
    };
    let reply = match script {
        Some(script) => Some(script(n, &arrival)),
        None => {
            let (answer, answered) = oneshot::channel();
            if tx.send(Held { arrival, answer }).is_err() {
                None
            } else {
                answered.await.ok()
            }
        }
    };
    // No longer in flight once answered: the client starts another request
    // only after it reads this response, so the count never overstates.
    log.now.fetch_sub(1, Ordering::SeqCst);
    let Some(reply) = reply else { return };
    let body = reply.body.to_string();
    let mut head = format!(
        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        reply.status,
        body.len()
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = tcp.write_all(head.as_bytes()).await;
    let _ = tcp.write_all(body.as_bytes()).await;
    let _ = tcp.shutdown().await;
}
