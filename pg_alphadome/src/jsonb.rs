//! jsonb read and written in place with PostgreSQL's own jsonb routines. The message path
//! reads a few fields of every webhook: turning the whole payload into text and parsing that
//! again (serde_json) was a large share of an ingest (docs/internals.md). A `Json` borrows from the
//! datum, so strings are not copied, and there is no nesting limit or number range to fail on.
use pgrx::pg_sys::{self, jbvType, JsonbIteratorToken as Token};
use std::borrow::Cow;
use std::ffi::CStr;
use std::marker::PhantomData;

/// A value inside a jsonb datum that lives at least as long as `'a`.
#[derive(Clone, Copy)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(pg_sys::Numeric),
    /// The string's bytes as stored (the database's encoding).
    String(&'a [u8]),
    Object(Container<'a>),
    Array(Container<'a>),
}

/// An object or array inside the datum.
#[derive(Clone, Copy)]
pub struct Container<'a> {
    ptr: *mut pg_sys::JsonbContainer,
    datum: PhantomData<&'a pg_sys::JsonbContainer>,
}

impl<'a> Json<'a> {
    /// The top value of a jsonb datum.
    ///
    /// # Safety
    /// `datum` is a non-null jsonb datum that stays valid for `'a`. A compressed or
    /// out-of-line datum is expanded into the current memory context, which must outlive `'a`.
    pub unsafe fn from_datum(datum: pg_sys::Datum) -> Json<'a> {
        // SAFETY: per the caller's promise; the expanded datum begins with a JsonbContainer.
        unsafe {
            let jsonb = pg_sys::pg_detoast_datum(datum.cast_mut_ptr()).cast::<pg_sys::Jsonb>();
            let root = Container {
                ptr: &raw mut (*jsonb).root,
                datum: PhantomData,
            };
            if root.header() & pg_sys::JB_FSCALAR != 0 {
                // A bare scalar is stored as a one-element array.
                let mut scalar = std::mem::MaybeUninit::<pg_sys::JsonbValue>::uninit();
                pg_sys::JsonbExtractScalar(root.ptr, scalar.as_mut_ptr());
                Self::from_value(scalar.as_ptr())
            } else {
                root.value()
            }
        }
    }

    /// # Safety
    /// `value` points to a JsonbValue read out of a container that lives for `'a`.
    unsafe fn from_value(value: *const pg_sys::JsonbValue) -> Json<'a> {
        // SAFETY: the union member read is the one `type_` names.
        unsafe {
            let value = &*value;
            match value.type_ {
                jbvType::jbvBool => Json::Bool(value.val.boolean),
                jbvType::jbvNumeric => Json::Number(value.val.numeric),
                jbvType::jbvString => {
                    let s = value.val.string;
                    Json::String(std::slice::from_raw_parts(
                        s.val.cast::<u8>(),
                        s.len as usize,
                    ))
                }
                jbvType::jbvBinary => Container {
                    ptr: value.val.binary.data,
                    datum: PhantomData,
                }
                .value(),
                // jbvNull; the in-memory kinds (jbvArray, jbvObject, jbvDatetime) never come
                // out of a stored container.
                _ => Json::Null,
            }
        }
    }

    /// The member `key` of an object (None when absent or when this is not an object).
    pub fn get(self, key: &str) -> Option<Json<'a>> {
        let Json::Object(object) = self else {
            return None;
        };
        let mut found = std::mem::MaybeUninit::<pg_sys::JsonbValue>::uninit();
        // SAFETY: a container of the datum; the key is read for its length only.
        unsafe {
            let value = pg_sys::getKeyJsonValueFromContainer(
                object.ptr,
                key.as_ptr().cast(),
                key.len() as i32,
                found.as_mut_ptr(),
            );
            (!value.is_null()).then(|| Self::from_value(value))
        }
    }

    /// The value at a path of object keys.
    pub fn at(self, path: &[&str]) -> Option<Json<'a>> {
        path.iter().try_fold(self, |value, key| value.get(key))
    }

    /// Whether this is an object whose every member is one of `keys`.
    pub fn has_only(self, keys: &[&str]) -> bool {
        let Json::Object(object) = self else {
            return false;
        };
        keys.iter().filter(|key| self.get(key).is_some()).count() == object.len()
    }

    /// The items of an array (none when this is not an array): Meta's optional lists.
    pub fn items(self) -> impl Iterator<Item = Json<'a>> {
        let (array, len) = match self {
            Json::Array(array) => (Some(array), array.len()),
            _ => (None, 0),
        };
        (0..len).filter_map(move |i| array.map(|a| a.item(i)))
    }

    /// The items of the array in member `key` (none when it is absent or not an array).
    pub fn items_in(self, key: &str) -> impl Iterator<Item = Json<'a>> {
        self.get(key).into_iter().flat_map(Json::items)
    }

    /// The value as text, exactly as SQL's `->>` gives it: strings unquoted, numbers as
    /// jsonb prints them (12.50 stays 12.50), objects and arrays as jsonb text, null as None.
    pub fn text(self) -> Option<Cow<'a, str>> {
        match self {
            Json::Null => None,
            Json::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
            Json::String(bytes) => Some(String::from_utf8_lossy(bytes)),
            Json::Number(n) => {
                // SAFETY: a numeric of the datum; numeric_out returns a palloc'd C string.
                let text = unsafe {
                    pgrx::direct_function_call::<&CStr>(
                        pg_sys::numeric_out,
                        &[Some(pg_sys::Datum::from(n))],
                    )
                };
                text.map(|t| Cow::Owned(t.to_string_lossy().into_owned()))
            }
            Json::Object(c) | Json::Array(c) => {
                // SAFETY: a container of the datum; a NULL StringInfo makes a new one.
                let text = unsafe {
                    CStr::from_ptr(pg_sys::JsonbToCString(std::ptr::null_mut(), c.ptr, 64))
                };
                Some(Cow::Owned(text.to_string_lossy().into_owned()))
            }
        }
    }
}

impl<'a> Container<'a> {
    fn header(self) -> u32 {
        // SAFETY: ptr points into a live datum.
        unsafe { (*self.ptr).header }
    }

    fn len(self) -> usize {
        (self.header() & pg_sys::JB_CMASK) as usize
    }

    fn item(self, i: usize) -> Json<'a> {
        // SAFETY: i < len(); the element is copied out of its palloc'd holder, then freed.
        unsafe {
            let item = pg_sys::getIthJsonbValueFromContainer(self.ptr, i as u32);
            let value = Json::from_value(item);
            pg_sys::pfree(item.cast());
            value
        }
    }

    fn value(self) -> Json<'a> {
        if self.header() & pg_sys::JB_FOBJECT != 0 {
            Json::Object(self)
        } else {
            Json::Array(self)
        }
    }
}

/// A jsonb object of integers (ingest's counts), built in the current memory context without
/// text in between.
pub fn object_of_integers(members: &[(&str, i64)]) -> pg_sys::Datum {
    // SAFETY: the pushJsonbValue protocol (begin, key/value pairs, end); every key pushed lives
    // until JsonbValueToJsonb has copied it into the result.
    unsafe {
        let mut state: *mut pg_sys::JsonbParseState = std::ptr::null_mut();
        pg_sys::pushJsonbValue(&mut state, Token::WJB_BEGIN_OBJECT, std::ptr::null_mut());
        for (key, n) in members {
            let mut key = pg_sys::JsonbValue {
                type_: jbvType::jbvString,
                val: pg_sys::JsonbValue__bindgen_ty_1 {
                    string: pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_1 {
                        len: key.len() as i32,
                        // Read only: pushJsonbValue copies what it keeps.
                        val: key.as_ptr().cast_mut().cast(),
                    },
                },
            };
            pg_sys::pushJsonbValue(&mut state, Token::WJB_KEY, &mut key);
            let mut value = pg_sys::JsonbValue {
                type_: jbvType::jbvNumeric,
                val: pg_sys::JsonbValue__bindgen_ty_1 {
                    numeric: pg_sys::int64_to_numeric(*n),
                },
            };
            pg_sys::pushJsonbValue(&mut state, Token::WJB_VALUE, &mut value);
        }
        let built = pg_sys::pushJsonbValue(&mut state, Token::WJB_END_OBJECT, std::ptr::null_mut());
        pg_sys::Datum::from(pg_sys::JsonbValueToJsonb(built))
    }
}
