//! Mock HTTP servers on 127.0.0.1 (wiremock) that record every request, and
//! reading what they received.

use std::ops::Deref;

use serde_json::Value;
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockBuilder, MockServer, Request, Respond, ResponseTemplate};

/// A wiremock server; derefs to [`MockServer`] for `uri()`, `reset()` and
/// mounting mocks built with wiremock's own builder. Mocks mounted with
/// `.expect(n)` are checked when it is dropped, as with wiremock's.
pub struct Server(MockServer);

impl Server {
    /// Listens on 127.0.0.1, on a free port, answering 404 to everything.
    pub async fn start() -> Server {
        Server(MockServer::start().await)
    }

    /// A server answering every request `route` matches (see
    /// [`Server::given`]) with `response`, and nothing else.
    pub async fn answering(route: &str, response: impl Respond + 'static) -> Server {
        Server::build().reply(route, response).start().await
    }

    /// A server that answers as told from its first request on:
    /// `Server::build().reply(…).mock(…).start().await`.
    pub fn build() -> ServerBuilder {
        ServerBuilder { mocks: Vec::new() }
    }

    /// From now on, answers the requests that `route` matches (see
    /// [`Server::given`]) with `response`: for a server that changes its
    /// answers mid-test (after `reset()`).
    pub async fn reply(&self, route: &str, response: impl Respond + 'static) {
        Self::given(route).respond_with(response).mount(self).await;
    }

    /// A wiremock builder matching `route`: `"METHOD /path"`, `"METHOD"`
    /// (any path), `"/path"` (any method) or `""` (anything). For mocks
    /// that need more than [`Server::reply`] (`expect`, `up_to_n_times`,
    /// more matchers).
    pub fn given(route: &str) -> MockBuilder {
        let (verb, at) = match route.split_once(' ') {
            Some((verb, at)) => (Some(verb), Some(at)),
            None if route.starts_with('/') => (None, Some(route)),
            None if route.is_empty() => (None, None),
            None => (Some(route), None),
        };
        match (verb, at) {
            (Some(verb), Some(at)) => Mock::given(method(verb)).and(path(at)),
            (Some(verb), None) => Mock::given(method(verb)),
            (None, Some(at)) => Mock::given(path(at)),
            (None, None) => Mock::given(any()),
        }
    }

    /// The requests received so far, in order.
    pub async fn received(&self) -> Vec<Request> {
        self.0.received_requests().await.unwrap_or_default()
    }

    /// `METHOD /path` of every request received so far, in order.
    pub async fn requests(&self) -> Vec<String> {
        self.each_received(|r| format!("{} {}", r.method, r.url.path()))
            .await
    }

    /// `what` of every request received so far, in order.
    pub async fn each_received<T>(&self, what: impl Fn(&Request) -> T) -> Vec<T> {
        self.received().await.iter().map(what).collect()
    }

    pub fn port(&self) -> u16 {
        self.0.address().port()
    }
}

/// The mocks of a [`Server`] to be, mounted in the order given (wiremock
/// tries mocks of equal priority in that order).
#[must_use = "a ServerBuilder serves nothing until started"]
pub struct ServerBuilder {
    mocks: Vec<Mock>,
}

impl ServerBuilder {
    /// Answers the requests that `route` matches (see [`Server::given`])
    /// with `response`.
    pub fn reply(self, route: &str, response: impl Respond + 'static) -> Self {
        self.mock(Server::given(route).respond_with(response))
    }

    /// Answers the requests that `route` matches with `responses` in turn,
    /// one request each; the last one answers every request after that.
    pub fn reply_in_turn(mut self, route: &str, responses: Vec<ResponseTemplate>) -> Self {
        let n = responses.len();
        for (i, response) in responses.into_iter().enumerate() {
            let mock = Server::given(route).respond_with(response);
            self = self.mock(if i + 1 < n {
                mock.up_to_n_times(1)
            } else {
                mock
            });
        }
        self
    }

    /// A mock built with wiremock's own builder.
    pub fn mock(mut self, mock: Mock) -> Self {
        self.mocks.push(mock);
        self
    }

    pub async fn start(self) -> Server {
        let server = Server::start().await;
        for mock in self.mocks {
            mock.mount(&server).await;
        }
        server
    }
}

impl Deref for Server {
    type Target = MockServer;

    fn deref(&self) -> &MockServer {
        &self.0
    }
}

/// A response with `status` and `body` as JSON.
pub fn json_reply(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// Reading a received request.
pub trait RequestExt {
    /// The value of header `name`, if present and text.
    fn header(&self, name: &str) -> Option<&str>;
    /// The body, which must be JSON.
    fn json(&self) -> Value;
}

impl RequestExt for Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}
