//! `wasi:http/outgoing-handler` as wasmtime-wasi-http 48 serves it, less one
//! leak: its `handle` reads the `request-options` the guest gives away with
//! the call and never removes them from the instance's resource table. Every
//! request with options (ours carry the store's timeouts) then pinned a table
//! entry for the life of the instance, and a long-lived one — a Plakar
//! plugin's pool instance, or one `size` over many listing pages — ran out
//! of entries after about two thousand requests (`ResourceTableError::Full`,
//! see [`crate::limits::max_resources`]).

use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_http::p2::bindings::http::{outgoing_handler, types};
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
use wasmtime_wasi_http::WasiHttpView;

/// The interface instance whose `handle` this module replaces, as
/// wasmtime-wasi-http 48 names it (its WIT is wasi:http 0.2.12).
const INTERFACE: &str = "wasi:http/outgoing-handler@0.2.12";

/// What `wasmtime_wasi_http::p2::add_only_http_to_linker_async` adds, with
/// `handle` freeing the options it was given.
pub fn add_to_linker<T: WasiHttpView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    linker.allow_shadowing(true);
    let defined = linker.instance(INTERFACE)?.func_wrap("handle", handle::<T>);
    linker.allow_shadowing(false);
    defined
}

type Options = Option<Resource<types::RequestOptions>>;
type Answer = Result<Resource<HostFutureIncomingResponse>, types::ErrorCode>;

fn handle<T: WasiHttpView>(
    mut store: wasmtime::StoreContextMut<'_, T>,
    (request, options): (Resource<HostOutgoingRequest>, Options),
) -> wasmtime::Result<(Answer,)> {
    let mut http = store.data_mut().http();
    let given = options.as_ref().map(Resource::rep);
    let answer = outgoing_handler::Host::handle(&mut http, request, options);
    if let Some(rep) = given {
        // The guest gave them away with the call: nothing refers to them
        // any more. Already gone (a bad handle) is no loss.
        let _ = http
            .table
            .delete(Resource::<types::RequestOptions>::new_own(rep));
    }
    match answer {
        Ok(future) => Ok((Ok(future),)),
        Err(e) => Ok((Err(types::Host::convert_error_code(&mut http, e)?),)),
    }
}
