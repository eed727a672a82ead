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
    fn read(&mut self, max: usize) -> Result<Option<Vec<u8>>, TransportError> {
        match self.stream.blocking_read(max as u64) {
            Ok(chunk) => Ok(Some(chunk)),
            Err(StreamError::Closed) => Ok(None),
            Err(StreamError::LastOperationFailed(e)) => {
                Err(match wasi::http::types::http_error_code(&e) {
                    Some(code) => classify(&code),
                    None => TransportError::Connection(e.to_debug_string()),
                })
            }
        }
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
        let outgoing_body = outgoing
            .body()
            .map_err(|()| TransportError::Protocol("request body already taken".into()))?;
        let future = outgoing_handler::handle(outgoing, Some(options(timeouts)))
            .map_err(|code| classify(&code))?;
        // A server may answer (and close) before reading the whole body, e.g.
        // to refuse the request: its answer then matters more than our write.
        let written = write_body(&outgoing_body, body);
        let finished = OutgoingBody::finish(outgoing_body, None).map_err(|code| classify(&code));
        let response = loop {
            match future.get() {
                Some(Ok(Ok(response))) => break response,
                Some(Ok(Err(code))) => return Err(written.err().unwrap_or(classify(&code))),
                Some(Err(())) => {
                    return Err(TransportError::Protocol("response already taken".into()))
                }
                None => future.subscribe().block(),
            }
        };
        if response.status() >= 400 || (written.is_ok() && finished.is_ok()) {
            return read_head(response);
        }
        Err(written
            .err()
            .or(finished.err())
            .unwrap_or_else(|| TransportError::Connection("request body not fully sent".into())))
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

fn write_body(outgoing: &OutgoingBody, body: &[u8]) -> Result<(), TransportError> {
    if body.is_empty() {
        return Ok(());
    }
    let stream = outgoing
        .write()
        .map_err(|()| TransportError::Protocol("request body stream already taken".into()))?;
    let result = write_all(&stream, body);
    drop(stream);
    result
}

/// Writes as fast as the host accepts, waiting when its buffer is full.
fn write_all(stream: &OutputStream, mut data: &[u8]) -> Result<(), TransportError> {
    let failed = |e: StreamError| match e {
        StreamError::Closed => TransportError::Connection("connection closed while sending".into()),
        StreamError::LastOperationFailed(e) => match wasi::http::types::http_error_code(&e) {
            Some(code) => classify(&code),
            None => TransportError::Connection(e.to_debug_string()),
        },
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
    stream.blocking_flush().map_err(failed)
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
