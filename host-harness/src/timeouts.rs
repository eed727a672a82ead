//! When a request has waited too long. The configuration sets the host's
//! timeouts; the component may ask for shorter ones (wasi-http
//! `request-options`) but never for longer ones.
//!
//! The clocks start where the wait is the network's fault, not the caller's:
//! the first-byte clock starts once the request body has been handed to the
//! connection (a large upload is not "waiting for the first byte"), and an
//! upload stalls only when the connection stops taking data, not while the
//! component is still producing it.

use std::time::{Duration, Instant};

use kloset_s3::config::Timeouts;
use wasmtime_wasi_http::RequestOptions;

/// `host`, lowered by whatever shorter timeouts the guest asked for.
pub fn capped(host: Timeouts, guest: Option<RequestOptions>) -> Timeouts {
    let guest = guest.unwrap_or_default();
    let cap = |host: Duration, guest: Option<Duration>| guest.map_or(host, |g| g.min(host));
    Timeouts {
        connect: cap(host.connect, guest.connect_timeout),
        first_byte: cap(host.first_byte, guest.first_byte_timeout),
        between_bytes: cap(host.between_bytes, guest.between_bytes_timeout),
    }
}

/// Where a request stands between being sent and its response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    /// The connection is waiting for the component to produce body bytes.
    AwaitingBody,
    /// The connection was handed a body chunk at this instant and has not asked
    /// for the next one since: it is still writing it.
    Writing(Instant),
    /// The whole body was handed over at this instant.
    Sent(Instant),
}

/// Which timeout ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// The server stopped reading the request body.
    Write,
    /// The server did not answer in time once the request was sent.
    FirstByte,
}

impl Upload {
    /// When the request fails if nothing changes, and why; `None` while the
    /// component is the one being waited for.
    pub fn deadline(self, timeouts: &Timeouts) -> Option<(Instant, Expired)> {
        match self {
            Upload::AwaitingBody => None,
            Upload::Writing(at) => Some((at + timeouts.between_bytes, Expired::Write)),
            Upload::Sent(at) => Some((at + timeouts.first_byte, Expired::FirstByte)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: Timeouts = Timeouts {
        connect: Duration::from_secs(10),
        first_byte: Duration::from_secs(30),
        between_bytes: Duration::from_secs(20),
    };

    #[test]
    fn without_guest_options_the_host_timeouts_apply() {
        assert_eq!(capped(HOST, None), HOST);
        assert_eq!(capped(HOST, Some(RequestOptions::default())), HOST);
    }

    #[test]
    fn the_guest_may_shorten_each_timeout() {
        let guest = RequestOptions {
            connect_timeout: Some(Duration::from_secs(1)),
            first_byte_timeout: Some(Duration::from_secs(2)),
            between_bytes_timeout: Some(Duration::from_secs(3)),
        };
        let expected = Timeouts {
            connect: Duration::from_secs(1),
            first_byte: Duration::from_secs(2),
            between_bytes: Duration::from_secs(3),
        };
        assert_eq!(capped(HOST, Some(guest)), expected);
    }

    #[test]
    fn the_guest_cannot_lengthen_any_timeout() {
        let guest = RequestOptions {
            connect_timeout: Some(Duration::from_secs(3600)),
            first_byte_timeout: Some(Duration::MAX),
            between_bytes_timeout: Some(Duration::from_secs(21)),
        };
        assert_eq!(capped(HOST, Some(guest)), HOST);
    }

    #[test]
    fn no_deadline_while_the_component_produces_the_body() {
        assert_eq!(Upload::AwaitingBody.deadline(&HOST), None);
    }

    #[test]
    fn a_chunk_not_taken_within_between_bytes_is_a_write_stall() {
        let at = Instant::now();
        assert_eq!(
            Upload::Writing(at).deadline(&HOST),
            Some((at + HOST.between_bytes, Expired::Write))
        );
    }

    #[test]
    fn the_first_byte_clock_starts_when_the_body_is_sent() {
        let at = Instant::now();
        assert_eq!(
            Upload::Sent(at).deadline(&HOST),
            Some((at + HOST.first_byte, Expired::FirstByte))
        );
    }
}
