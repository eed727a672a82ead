//! The one module that touches WASI: HTTP through `wasi:http/outgoing-handler`,
//! time through `wasi:clocks`, randomness through `wasi:random`. The host
//! decides where requests may go (one authority) and enforces the timeouts we
//! ask for here; this module only carries bytes.

use std::time::Duration;

use wasi::clocks::{monotonic_clock, wall_clock};
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, IncomingBody, IncomingResponse, Method as WasiMethod, OutgoingBody,
    OutgoingRequest, RequestOptions, Scheme as WasiScheme,
};
use wasi::io::streams::{InputStream, OutputStream, StreamError};

use crate::client::{Response, ResponseBody, Transport, TransportError};
use crate::config::Timeouts;
use crate::request::{Method, Request, Scheme};

pub struct WasiTransport;

/// A response body stream. Field order matters: WASI requires the stream to be
/// dropped before the body it came from, and the body before the response.
pub struct WasiBody {
    stream: InputStream,
    _body: IncomingBody,
    _response: IncomingResponse,
}

impl ResponseBody for WasiBody {
    /// Waits for the first bytes, then takes whatever else has already
    /// arrived, up to `max`: fewer, larger chunks mean fewer crossings of the
    /// component boundary per object.
    fn read(&mut self, max: usize) -> Result<Option<Vec<u8>>, TransportError> {
        let mut chunk = match self.stream.blocking_read(max as u64) {
            Ok(chunk) => chunk,
            Err(StreamError::Closed) => return Ok(None),
            Err(StreamError::LastOperationFailed(e)) => return Err(stream_error(&e)),
        };
        while chunk.len() < max {
            match self.stream.read((max - chunk.len()) as u64) {
                Ok(more) if !more.is_empty() => chunk.extend_from_slice(&more),
                // Nothing more yet, or the end: both are for the next call.
                Ok(_) | Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => return Err(stream_error(&e)),
            }
        }
        Ok(Some(chunk))
    }
}

fn stream_error(e: &wasi::io::error::Error) -> TransportError {
    match wasi::http::types::http_error_code(e) {
        Some(code) => classify(&code),
        None => TransportError::Connection(e.to_debug_string()),
    }
}

impl Transport for WasiTransport {
    type Body = WasiBody;

    fn send(
        &self,
        req: &Request,
        body: &[u8],
        timeouts: &Timeouts,
    ) -> Result<Response<WasiBody>, TransportError> {
        let outgoing = outgoing_request(req)?;
        // Only requests that carry a body take one: an untaken body lets the
        // host send none, where a taken, empty one would go out chunked.
        let has_body = !body.is_empty() || req.header_value("content-length").is_some();
        let outgoing_body = match has_body {
            true => Some(
                outgoing
                    .body()
                    .map_err(|()| TransportError::Protocol("request body already taken".into()))?,
            ),
            false => None,
        };
        let future = outgoing_handler::handle(outgoing, Some(options(timeouts)))
            .map_err(|code| classify(&code))?;
        if let Some(outgoing_body) = outgoing_body {
            // A write failure is not the answer: a server may refuse the request
            // (and stop reading) before the body is through, and a broken
            // connection shows as the response's error code, which is precise.
            // With Content-Length framing no server accepts a partial body.
            let _ = send_body(outgoing_body, body);
        }
        loop {
            match future.get() {
                Some(Ok(Ok(response))) => return read_head(response),
                Some(Ok(Err(code))) => return Err(classify(&code)),
                Some(Err(())) => {
                    return Err(TransportError::Protocol("response already taken".into()))
                }
                None => future.subscribe().block(),
            }
        }
    }

    fn unix_time(&self) -> u64 {
        wall_clock::now().seconds
    }

    fn monotonic(&self) -> Duration {
        Duration::from_nanos(monotonic_clock::now())
    }

    fn sleep(&self, duration: Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        monotonic_clock::subscribe_duration(nanos).block();
    }

    fn random_u64(&self) -> u64 {
        wasi::random::random::get_random_u64()
    }
}

fn outgoing_request(req: &Request) -> Result<OutgoingRequest, TransportError> {
    let entries: Vec<(String, Vec<u8>)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), v.as_bytes().to_vec()))
        .collect();
    let fields = Fields::from_list(&entries)
        .map_err(|e| TransportError::Protocol(format!("invalid request header: {e:?}")))?;
    let outgoing = OutgoingRequest::new(fields);
    let method = match req.method {
        Method::Get => WasiMethod::Get,
        Method::Head => WasiMethod::Head,
        Method::Put => WasiMethod::Put,
        Method::Post => WasiMethod::Post,
        Method::Delete => WasiMethod::Delete,
    };
    let scheme = match req.scheme {
        Scheme::Http => WasiScheme::Http,
        Scheme::Https => WasiScheme::Https,
    };
    let invalid = |what: &str| TransportError::Protocol(format!("invalid request {what}"));
    outgoing
        .set_method(&method)
        .map_err(|()| invalid("method"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("scheme"))?;
    outgoing
        .set_authority(Some(&req.authority))
        .map_err(|()| invalid("authority"))?;
    outgoing
        .set_path_with_query(Some(&req.path_and_query()))
        .map_err(|()| invalid("path"))?;
    Ok(outgoing)
}

fn options(timeouts: &Timeouts) -> RequestOptions {
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let options = RequestOptions::new();
    // The host caps these; a host that does not support one just ignores it.
    let _ = options.set_connect_timeout(Some(nanos(timeouts.connect)));
    let _ = options.set_first_byte_timeout(Some(nanos(timeouts.first_byte)));
    let _ = options.set_between_bytes_timeout(Some(nanos(timeouts.between_bytes)));
    options
}

/// Writes the whole body and finishes it. The stream must be dropped before
/// the body is finished.
fn send_body(outgoing: OutgoingBody, body: &[u8]) -> Result<(), TransportError> {
    let stream = outgoing
        .write()
        .map_err(|()| TransportError::Protocol("request body stream already taken".into()))?;
    let written = write_all(&stream, body);
    drop(stream);
    let finished = OutgoingBody::finish(outgoing, None).map_err(|code| classify(&code));
    written.and(finished)
}

/// Writes as fast as the host accepts, waiting when its buffer is full. No
/// flush: what `write` accepted the host sends after the body is finished,
/// and waiting for it to drain would cost a round trip through the host.
fn write_all(stream: &OutputStream, mut data: &[u8]) -> Result<(), TransportError> {
    let failed = |e: StreamError| match e {
        StreamError::Closed => TransportError::Connection("connection closed while sending".into()),
        StreamError::LastOperationFailed(e) => stream_error(&e),
    };
    while !data.is_empty() {
        let permitted = stream.check_write().map_err(failed)?;
        if permitted == 0 {
            stream.subscribe().block();
            continue;
        }
        let n = usize::try_from(permitted)
            .unwrap_or(usize::MAX)
            .min(data.len());
        stream.write(&data[..n]).map_err(failed)?;
        data = &data[n..];
    }
    Ok(())
}

fn read_head(response: IncomingResponse) -> Result<Response<WasiBody>, TransportError> {
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| {
            (
                name.to_ascii_lowercase(),
                String::from_utf8_lossy(&value).into_owned(),
            )
        })
        .collect();
    let body = response
        .consume()
        .map_err(|()| TransportError::Protocol("response body already taken".into()))?;
    let stream = body
        .stream()
        .map_err(|()| TransportError::Protocol("response body stream already taken".into()))?;
    Ok(Response {
        status,
        headers,
        body: WasiBody {
            stream,
            _body: body,
            _response: response,
        },
    })
}

/// Sorts wasi-http's error codes into what the retry policy distinguishes.
fn classify(code: &ErrorCode) -> TransportError {
    let text = format!("{code:?}");
    match code {
        ErrorCode::HttpRequestDenied => TransportError::Denied(text),
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout
        | ErrorCode::DnsTimeout => TransportError::Timeout(text),
        ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionTerminated
        | ErrorCode::ConnectionLimitReached
        | ErrorCode::DnsError(_)
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpUnroutable
        | ErrorCode::HttpProtocolError
        | ErrorCode::HttpResponseIncomplete
        | ErrorCode::InternalError(_) => TransportError::Connection(text),
        _ => TransportError::Protocol(text),
    }
}
