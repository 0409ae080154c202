//! `get`, `set` and `delete` as plain exported functions: Vendure calls them on every request, and
//! a napi-rs class method costs several hundred ns more than a plain function (it unwraps `this`
//! through a process-wide registry behind a mutex). A store is named by a number; each JS thread
//! keeps its own table of the stores it opened, so a call takes no lock shared with other threads.
//! Tokens are read into a stack buffer (one N-API call, no allocation; see `with_utf16`).

use super::{tier_key, tier_local_key, HitMeta, SetResult, TierCell};
use crate::generation::SlotTable;
use crate::store::{Placement, Store};
use napi::bindgen_prelude::{FromNapiValue, ToNapiValue, TypeName, ValidateNapiValue};
use napi::{sys, Error, Result, Status, ValueType};
use napi_derive::napi;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// What the per-call functions need of an open `NativeStore`.
pub(super) struct OpenStore {
    pub store: Arc<Store>,
    pub tier: TierCell,
    pub hit_meta: Arc<HitMeta>,
}

impl OpenStore {
    fn write_meta(&self, placement: Placement) {
        let meta = [
            f64::from(SlotTable::index_of(placement.slot)),
            f64::from(placement.generation),
            f64::from(placement.epoch),
            placement.deadline_ms as f64,
        ];
        for (cell, value) in self.hit_meta.iter().zip(meta) {
            cell.store(value.to_bits(), Ordering::Relaxed);
        }
    }
}

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

thread_local! {
    /// The stores this JS thread opened and has not closed: few, so a scan is cheapest.
    static OPEN: RefCell<Vec<(u32, Arc<OpenStore>)>> = const { RefCell::new(Vec::new()) };
}

/// Registers a store opened on this thread; returns the number JS names it by (never reused).
pub(super) fn register(open: OpenStore) -> u32 {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let _ = OPEN.try_with(|table| {
        if let Ok(mut table) = table.try_borrow_mut() {
            table.push((id, Arc::new(open)));
        }
    });
    id
}

/// Forgets a store (closed, or its JS object collected); later calls with its number miss.
pub(super) fn unregister(id: u32) {
    // Taken out first and dropped after the borrow ends: dropping the last handle may free the store.
    let removed = OPEN
        .try_with(|table| {
            let mut table = table.try_borrow_mut().ok()?;
            let at = table.iter().position(|(open, _)| *open == id)?;
            Some(table.swap_remove(at))
        })
        .ok()
        .flatten();
    drop(removed);
}

/// Runs `f` on the open store numbered `id`, if this thread opened it and has not closed it. No
/// JS runs inside (values reach JS after `f` returns), so nothing can reenter the table's borrow.
fn with_open<R>(id: u32, f: impl FnOnce(&OpenStore) -> R) -> Option<R> {
    OPEN.try_with(|table| {
        let table = table.try_borrow().ok()?;
        let (_, open) = table.iter().find(|(open, _)| *open == id)?;
        Some(f(open))
    })
    .ok()
    .flatten()
}

/// Reads a JS string as UTF-16 and hands its units to `then`: through `STACK` units on the stack
/// (not zeroed: only what N-API wrote is read) when it fits, else through a `Vec` of its length.
/// One N-API call for strings that fit; V8 copies a one-byte string out as UTF-16 far faster than it
/// encodes UTF-8.
unsafe fn with_utf16<const STACK: usize, R>(
    env: sys::napi_env,
    value: sys::napi_value,
    what: &str,
    then: impl FnOnce(&[u16]) -> R,
) -> Result<R> {
    let expected = || Error::new(Status::StringExpected, format!("{what} must be a string"));
    let mut stack = std::mem::MaybeUninit::<[u16; STACK]>::uninit();
    let mut written = 0usize;
    // SAFETY: the buffer holds STACK units and N-API writes at most that many (NUL included).
    let status = unsafe {
        sys::napi_get_value_string_utf16(env, value, stack.as_mut_ptr().cast(), STACK, &mut written)
    };
    if status != sys::Status::napi_ok {
        return Err(expected());
    }
    if written + 1 < STACK {
        // SAFETY: N-API initialized the first `written` units (fewer than STACK).
        let units = unsafe { std::slice::from_raw_parts(stack.as_ptr().cast::<u16>(), written) };
        return Ok(then(units));
    }
    // Possibly cut short: read it whole.
    let mut len = 0usize;
    let status =
        unsafe { sys::napi_get_value_string_utf16(env, value, std::ptr::null_mut(), 0, &mut len) };
    if status != sys::Status::napi_ok {
        return Err(expected());
    }
    let mut units = vec![0u16; len + 1];
    // SAFETY: `units` holds len + 1 units, as many as N-API may write.
    let status = unsafe {
        sys::napi_get_value_string_utf16(env, value, units.as_mut_ptr(), len + 1, &mut written)
    };
    if status != sys::Status::napi_ok {
        return Err(expected());
    }
    Ok(then(&units[..written]))
}

/// Whether every unit is ASCII; written without an early exit so that it vectorizes.
fn all_ascii(units: &[u16]) -> bool {
    units.iter().fold(0, |seen, &unit| seen | unit) < 0x80
}

/// Declares a string argument type to napi-rs (`string` in the generated types).
macro_rules! string_argument {
    ($type:ty) => {
        impl TypeName for $type {
            fn type_name() -> &'static str {
                "string"
            }
            fn value_type() -> ValueType {
                ValueType::String
            }
        }

        impl ValidateNapiValue for $type {}
    };
}

/// A token argument, read through [`with_utf16`] and made UTF-8 here: ASCII (Vendure's tokens are 64
/// hex characters) by narrowing into an inline buffer, anything else by `String::from_utf16`, which
/// also finds lone surrogates exactly. Such a token is never stored, found or deleted: as UTF-8 it
/// would become U+FFFD and could name another token's session.
pub struct Token {
    ascii: [u8; Token::INLINE],
    len: usize,
    /// Set for tokens that are not short ASCII: their UTF-8, or None if not well-formed.
    other: Option<Option<String>>,
}

impl Token {
    const INLINE: usize = 256;

    /// The token as UTF-8; None if it holds a lone surrogate.
    fn as_str(&self) -> Option<&str> {
        match &self.other {
            Some(other) => other.as_deref(),
            // Only ASCII bytes were written there.
            None => std::str::from_utf8(&self.ascii[..self.len]).ok(),
        }
    }

    fn from_units(units: &[u16]) -> Token {
        let mut token = Token {
            ascii: [0; Token::INLINE],
            len: units.len(),
            other: None,
        };
        if units.len() <= Token::INLINE && all_ascii(units) {
            for (byte, &unit) in token.ascii.iter_mut().zip(units) {
                *byte = unit as u8;
            }
        } else {
            token.other = Some(String::from_utf16(units).ok());
        }
        token
    }
}

string_argument!(Token);

impl FromNapiValue for Token {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        unsafe { with_utf16::<{ Token::INLINE }, _>(env, value, "the token", Token::from_units) }
    }
}

/// An encoded session from JS, as the UTF-8 bytes the store keeps: read through [`with_utf16`] and
/// narrowed when ASCII, as the encoder's JSON almost always is (it escapes lone surrogates).
pub struct EncodedArg(Box<[u8]>);

impl EncodedArg {
    /// Sessions up to this many UTF-16 units are read through a stack buffer.
    const STACK_UNITS: usize = 4096;

    fn narrow(units: &[u16]) -> Box<[u8]> {
        if all_ascii(units) {
            let mut bytes = vec![0u8; units.len()].into_boxed_slice();
            // A loop the compiler vectorizes.
            for (byte, &unit) in bytes.iter_mut().zip(units) {
                *byte = unit as u8;
            }
            bytes
        } else {
            String::from_utf16_lossy(units)
                .into_bytes()
                .into_boxed_slice()
        }
    }
}

string_argument!(EncodedArg);

impl FromNapiValue for EncodedArg {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        let narrow = |units: &[u16]| EncodedArg(EncodedArg::narrow(units));
        unsafe { with_utf16::<{ EncodedArg::STACK_UNITS }, _>(env, value, "the session", narrow) }
    }
}

/// An encoded session handed to JS: ASCII (almost every session) is created as a Latin-1 string,
/// a plain copy for V8, instead of decoding UTF-8.
pub struct Encoded(Vec<u8>);

impl ToNapiValue for Encoded {
    unsafe fn to_napi_value(env: sys::napi_env, value: Self) -> Result<sys::napi_value> {
        let bytes = value.0;
        let mut out = std::ptr::null_mut();
        // SAFETY: `bytes` outlives both calls, which copy it.
        let status = unsafe {
            if bytes.is_ascii() {
                sys::napi_create_string_latin1(
                    env,
                    bytes.as_ptr().cast(),
                    bytes.len() as isize,
                    &mut out,
                )
            } else {
                sys::napi_create_string_utf8(
                    env,
                    bytes.as_ptr().cast(),
                    bytes.len() as isize,
                    &mut out,
                )
            }
        };
        if status != sys::Status::napi_ok {
            return Err(Error::new(
                Status::GenericFailure,
                "cannot create the session's string",
            ));
        }
        Ok(out)
    }
}

/// The encoded session for `token` in store `id`, or null; on a hit its metadata is in the
/// store's `hitMeta()`.
#[napi(
    catch_unwind,
    ts_args_type = "id: number, token: string",
    ts_return_type = "string | null"
)]
pub fn store_get(id: u32, token: Token) -> Option<Encoded> {
    let token = token.as_str()?;
    with_open(id, |open| {
        let key = tier_key(&open.tier, token)?;
        open.store.get_with(&key, |hit| {
            open.write_meta(Placement {
                slot: hit.slot,
                generation: hit.generation,
                epoch: hit.epoch,
                deadline_ms: hit.deadline_ms,
            });
            Encoded(hit.value.to_vec())
        })
    })
    .flatten()
}

/// Stores the encoded session; when stored, where it went is in the store's `hitMeta()` (the
/// near cache keeps the very object that was set). With `write_through` (the Redis tier is on), the
/// write is also marked pending in the same step, and the caller must then call `redisSet` (or
/// `redisDelete` when it was not kept), which settles it.
#[napi(
    catch_unwind,
    ts_args_type = "id: number, token: string, encoded: string, cacheExpiryS: number, expiresMs: number, writeThrough: boolean"
)]
pub fn store_set(
    id: u32,
    token: Token,
    encoded: EncodedArg,
    cache_expiry_s: f64,
    expires_ms: f64,
    write_through: bool,
) -> SetResult {
    let Some(token) = token.as_str() else {
        return SetResult::IllFormedToken;
    };
    with_open(id, |open| {
        let through = write_through && open.tier.get().is_some();
        let Some(key) = tier_key(&open.tier, token) else {
            // Not trustworthy: nothing enters the local store; drop what it may hold.
            let key = tier_local_key(&open.tier, token);
            if through {
                open.store.delete_then_write(&key);
            } else {
                open.store.delete(&key);
            }
            return SetResult::NotKeptLocally;
        };
        let value = encoded.0;
        let (outcome, placement) = if through {
            open.store
                .set_placed_then_write(&key, value, cache_expiry_s, expires_ms)
        } else {
            open.store
                .set_placed(&key, value, cache_expiry_s, expires_ms)
        };
        if let Some(placement) = placement {
            open.write_meta(placement);
        }
        outcome.into()
    })
    .unwrap_or(SetResult::AlreadyExpired)
}

/// Removes `token`'s session from store `id`; returns whether there was one.
#[napi(catch_unwind, ts_args_type = "id: number, token: string")]
pub fn store_delete(id: u32, token: Token) -> bool {
    let Some(token) = token.as_str() else {
        return false;
    };
    with_open(id, |open| {
        open.store.delete(&tier_local_key(&open.tier, token))
    })
    .unwrap_or(false)
}
