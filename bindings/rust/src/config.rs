//! `Config`: every setting by name (byol_config.h).

use core::ffi::{c_char, CStr};
use core::ptr::{self, NonNull};
use std::fmt;

use crate::error::{check, cstring, static_str, Error, Result};
use crate::sys;

/// The type of a configuration key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// `BYOL_TYPE_INT`: an `i64`.
    Int,
    /// `BYOL_TYPE_FLOAT`: an `f64`.
    Float,
    /// `BYOL_TYPE_STRING`: text, free or one of fixed choices.
    String,
    /// `BYOL_TYPE_BOOL`: `true`/`false`.
    Bool,
    /// A type code this crate does not know.
    Unknown(i32),
}

impl KeyType {
    fn from_raw(t: i32) -> KeyType {
        match t {
            sys::BYOL_TYPE_INT => KeyType::Int,
            sys::BYOL_TYPE_FLOAT => KeyType::Float,
            sys::BYOL_TYPE_STRING => KeyType::String,
            sys::BYOL_TYPE_BOOL => KeyType::Bool,
            other => KeyType::Unknown(other),
        }
    }
}

/// Description of one key, from `byol_config_key_info()`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyInfo {
    /// Dotted name, e.g. `"net.width"`.
    pub name: &'static str,
    /// The value's type.
    pub key_type: KeyType,
    /// One line of help.
    pub help: &'static str,
    /// The default, as text.
    pub default_value: &'static str,
    /// For strings with fixed choices, the choices (`"a|b|c"` split).
    pub choices: Option<Vec<&'static str>>,
    /// Inclusive lower bound of numeric keys.
    pub min: f64,
    /// Inclusive upper bound of numeric keys.
    pub max: f64,
}

/// A typed configuration value, for [`Config::set`] and [`Config::get_value`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer key's value (also accepted by float keys).
    Int(i64),
    /// A float key's value.
    Float(f64),
    /// A boolean key's value.
    Bool(bool),
    /// A string key's value.
    Str(String),
}

macro_rules! value_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value { Value::Int(v as i64) }
        }
    )*};
}
value_from_int!(i8, i16, i32, i64, u8, u16, u32);

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}
impl From<f32> for Value {
    fn from(v: f32) -> Value {
        Value::Float(v as f64)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Str(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Str(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Str(v.clone())
    }
}

/// Types [`Config::get`] can read: `i64`, `f64`, `bool`, `String`.
pub trait FromConfig: Sized {
    /// Reads `key` of `cfg` as this type.
    fn get(cfg: &Config, key: &str) -> Result<Self>;
}
impl FromConfig for i64 {
    fn get(cfg: &Config, key: &str) -> Result<i64> {
        cfg.get_int(key)
    }
}
impl FromConfig for f64 {
    fn get(cfg: &Config, key: &str) -> Result<f64> {
        cfg.get_float(key)
    }
}
impl FromConfig for bool {
    fn get(cfg: &Config, key: &str) -> Result<bool> {
        cfg.get_bool(key)
    }
}
impl FromConfig for String {
    fn get(cfg: &Config, key: &str) -> Result<String> {
        cfg.get_string(key)
    }
}

/// Every setting of libbyol by dotted name ("net.arch", "train.batch_size",
/// "threads"), with presets and "key=value" parsing. Owns a `byol_config`,
/// destroyed on drop.
///
/// Functions that take a `&Config` copy what they need during the call, so
/// a config may be changed or dropped right after creating a net, trainer,
/// dataset or loader from it.
///
/// `Send` (it may move to another thread) but not `Sync`: the library
/// handles are used by one thread at a time.
pub struct Config {
    raw: NonNull<sys::byol_config>,
}

// SAFETY: a byol_config has no thread affinity; the C API only asks that one
// thread use it at a time, which `!Sync` and `&mut` guarantee.
unsafe impl Send for Config {}

impl Config {
    /// A config with every key at its default (`byol_config_create()`).
    pub fn new() -> Result<Config> {
        let mut raw = ptr::null_mut();
        // SAFETY: raw is a valid out-pointer.
        check(unsafe { sys::byol_config_create(&mut raw) })?;
        Ok(Config {
            raw: NonNull::new(raw).expect("byol_config_create returned NULL"),
        })
    }

    /// A default config with a preset applied ("cifar10", "fashion-mnist",
    /// "imagenet"; see [`Config::presets`]).
    pub fn preset(name: &str) -> Result<Config> {
        let mut cfg = Config::new()?;
        cfg.apply_preset(name)?;
        Ok(cfg)
    }

    /// A default config with `settings` parsed ([`Config::parse`]).
    pub fn from_settings(settings: &str) -> Result<Config> {
        let mut cfg = Config::new()?;
        cfg.parse(settings)?;
        Ok(cfg)
    }

    /// An independent copy (`byol_config_copy()`).
    pub fn try_clone(&self) -> Result<Config> {
        let mut raw = ptr::null_mut();
        // SAFETY: self.raw is a live config; raw is a valid out-pointer.
        check(unsafe { sys::byol_config_copy(self.raw.as_ptr(), &mut raw) })?;
        Ok(Config {
            raw: NonNull::new(raw).expect("byol_config_copy returned NULL"),
        })
    }

    /// Applies a named preset; keys it does not mention keep their values.
    /// Unknown names fail with [`ErrorKind::Key`](crate::ErrorKind::Key),
    /// the message listing the known presets.
    pub fn apply_preset(&mut self, name: &str) -> Result<&mut Config> {
        let c = cstring(name, "preset name")?;
        // SAFETY: live config, NUL-terminated name.
        check(unsafe { sys::byol_config_apply_preset(self.raw.as_ptr(), c.as_ptr()) })?;
        Ok(self)
    }

    /// Parses "key=value" settings separated by whitespace, commas or
    /// newlines (`"net.arch=cnn-small threads=2"`); a value may be
    /// double-quoted, each quote inside written twice, and must be in its
    /// type's form (`byol_config_parse()`). All are checked before any is
    /// applied: on error the config is unchanged and the message names the
    /// offending key or text.
    pub fn parse(&mut self, settings: &str) -> Result<&mut Config> {
        let c = cstring(settings, "settings")?;
        // SAFETY: live config, NUL-terminated text.
        check(unsafe { sys::byol_config_parse(self.raw.as_ptr(), c.as_ptr()) })?;
        Ok(self)
    }

    /// Sets a key from a typed value: integers, floats, booleans or text.
    /// An integer given to a float key is converted; any other mismatch is
    /// reported by the library ([`ErrorKind::Range`](crate::ErrorKind::Range)),
    /// as is an unknown key ([`ErrorKind::Key`](crate::ErrorKind::Key)).
    /// On error the config is unchanged. Returns `self` for chaining.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) -> Result<&mut Config> {
        let value = value.into();
        let key_type = Config::key_info(key).ok().map(|k| k.key_type);
        match (value, key_type) {
            (Value::Int(v), Some(KeyType::Float)) => self.set_float(key, v as f64),
            (Value::Int(v), _) => self.set_int(key, v),
            (Value::Float(v), _) => self.set_float(key, v),
            (Value::Bool(v), _) => self.set_bool(key, v),
            (Value::Str(v), _) => self.set_str(key, &v),
        }
    }

    /// Sets an integer key (`byol_config_set_int()`).
    pub fn set_int(&mut self, key: &str, value: i64) -> Result<&mut Config> {
        let k = cstring(key, "key")?;
        // SAFETY: live config, NUL-terminated key.
        check(unsafe { sys::byol_config_set_int(self.raw.as_ptr(), k.as_ptr(), value) })?;
        Ok(self)
    }

    /// Sets a boolean key.
    pub fn set_bool(&mut self, key: &str, value: bool) -> Result<&mut Config> {
        self.set_int(key, value as i64)
    }

    /// Sets a float key (`byol_config_set_float()`); NaN is out of range.
    pub fn set_float(&mut self, key: &str, value: f64) -> Result<&mut Config> {
        let k = cstring(key, "key")?;
        // SAFETY: live config, NUL-terminated key.
        check(unsafe { sys::byol_config_set_float(self.raw.as_ptr(), k.as_ptr(), value) })?;
        Ok(self)
    }

    /// Sets a string key (`byol_config_set_string()`); a key with fixed
    /// choices names them in the error.
    pub fn set_str(&mut self, key: &str, value: &str) -> Result<&mut Config> {
        let k = cstring(key, "key")?;
        let v = cstring(value, "value")?;
        // SAFETY: live config, NUL-terminated key and value (copied by the library).
        check(unsafe { sys::byol_config_set_string(self.raw.as_ptr(), k.as_ptr(), v.as_ptr()) })?;
        Ok(self)
    }

    /// Reads a key as `T` (`i64`, `f64`, `bool` or `String`):
    /// `let batch: i64 = cfg.get("train.batch_size")?;`
    pub fn get<T: FromConfig>(&self, key: &str) -> Result<T> {
        T::get(self, key)
    }

    /// Reads a key as the type it has.
    pub fn get_value(&self, key: &str) -> Result<Value> {
        match Config::key_info(key)?.key_type {
            KeyType::Int => self.get_int(key).map(Value::Int),
            KeyType::Bool => self.get_bool(key).map(Value::Bool),
            KeyType::Float => self.get_float(key).map(Value::Float),
            _ => self.get_string(key).map(Value::Str),
        }
    }

    /// Reads an integer or boolean key.
    pub fn get_int(&self, key: &str) -> Result<i64> {
        let k = cstring(key, "key")?;
        let mut v = 0i64;
        // SAFETY: live config, NUL-terminated key, valid out-pointer.
        check(unsafe { sys::byol_config_get_int(self.raw.as_ptr(), k.as_ptr(), &mut v) })?;
        Ok(v)
    }

    /// Reads a boolean key.
    pub fn get_bool(&self, key: &str) -> Result<bool> {
        self.get_int(key).map(|v| v != 0)
    }

    /// Reads a float key.
    pub fn get_float(&self, key: &str) -> Result<f64> {
        let k = cstring(key, "key")?;
        let mut v = 0f64;
        // SAFETY: live config, NUL-terminated key, valid out-pointer.
        check(unsafe { sys::byol_config_get_float(self.raw.as_ptr(), k.as_ptr(), &mut v) })?;
        Ok(v)
    }

    /// Reads a string key (copied out of the config).
    pub fn get_string(&self, key: &str) -> Result<String> {
        let k = cstring(key, "key")?;
        let mut v: *const c_char = ptr::null();
        // SAFETY: live config, NUL-terminated key, valid out-pointer; the
        // borrowed text is copied before the config can change.
        unsafe {
            check(sys::byol_config_get_string(
                self.raw.as_ptr(),
                k.as_ptr(),
                &mut v,
            ))?;
            if v.is_null() {
                return Ok(String::new());
            }
            Ok(CStr::from_ptr(v).to_string_lossy().into_owned())
        }
    }

    /// The value of any key as text, in the form [`Config::parse`] reads
    /// (`byol_config_format()`).
    pub fn format(&self, key: &str) -> Result<String> {
        let k = cstring(key, "key")?;
        let mut buf = vec![0u8; 64];
        loop {
            // SAFETY: buf has buf.len() writable bytes.
            let need = unsafe {
                sys::byol_config_format(
                    self.raw.as_ptr(),
                    k.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            };
            if need < 0 {
                return Err(Error::last(need as i32));
            }
            let need = need as usize;
            if need <= buf.len() {
                buf.truncate(need.saturating_sub(1));
                return Ok(String::from_utf8_lossy(&buf).into_owned());
            }
            buf.resize(need, 0);
        }
    }

    /// Every key that differs from its default, as "key=value\n" lines that
    /// [`Config::parse`] reads back (`byol_config_serialize()`).
    pub fn serialize(&self) -> Result<String> {
        let mut out: *mut c_char = ptr::null_mut();
        // SAFETY: live config, valid out-pointer; the text is owned by us
        // and freed with byol_free after copying.
        unsafe {
            check(sys::byol_config_serialize(self.raw.as_ptr(), &mut out))?;
            if out.is_null() {
                return Ok(String::new());
            }
            let s = CStr::from_ptr(out).to_string_lossy().into_owned();
            sys::byol_free(out.cast());
            Ok(s)
        }
    }

    /// Names of the presets (`byol_config_preset_name()`).
    pub fn presets() -> Vec<&'static str> {
        let mut v = Vec::new();
        for i in 0.. {
            // SAFETY: returns static storage or NULL past the end.
            let p = unsafe { sys::byol_config_preset_name(i) };
            if p.is_null() {
                break;
            }
            // SAFETY: non-NULL static string.
            v.push(unsafe { static_str(p) });
        }
        v
    }

    /// Every key with its type, default, bounds and help.
    pub fn keys() -> Vec<KeyInfo> {
        // SAFETY: no arguments.
        let n = unsafe { sys::byol_config_key_count() };
        (0..n).filter_map(|i| key_info_at(i).ok()).collect()
    }

    /// The description of one key; unknown names fail with
    /// [`ErrorKind::Key`](crate::ErrorKind::Key).
    pub fn key_info(name: &str) -> Result<KeyInfo> {
        let c = cstring(name, "key")?;
        let mut index = 0i32;
        // SAFETY: NUL-terminated name, valid out-pointer.
        check(unsafe { sys::byol_config_key_find(c.as_ptr(), &mut index) })?;
        key_info_at(index)
    }

    /// The raw handle, borrowed: valid while `self` lives.
    pub fn as_ptr(&self) -> *const sys::byol_config {
        self.raw.as_ptr()
    }

    /// The raw handle, for C calls that change the config.
    pub fn as_mut_ptr(&mut self) -> *mut sys::byol_config {
        self.raw.as_ptr()
    }
}

fn key_info_at(index: i32) -> Result<KeyInfo> {
    let mut info = sys::byol_key_info {
        struct_size: core::mem::size_of::<sys::byol_key_info>() as u32,
        type_: 0,
        name: ptr::null(),
        help: ptr::null(),
        default_value: ptr::null(),
        choices: ptr::null(),
        min: 0.0,
        max: 0.0,
    };
    // SAFETY: info is a valid, sized out-struct; its strings are static.
    unsafe {
        check(sys::byol_config_key_info(index, &mut info))?;
        Ok(KeyInfo {
            name: static_str(info.name),
            key_type: KeyType::from_raw(info.type_),
            help: static_str(info.help),
            default_value: static_str(info.default_value),
            choices: if info.choices.is_null() {
                None
            } else {
                Some(static_str(info.choices).split('|').collect())
            },
            min: info.min,
            max: info.max,
        })
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        // SAFETY: we own the config; it is destroyed exactly once.
        unsafe { sys::byol_config_destroy(self.raw.as_ptr()) }
    }
}

impl Clone for Config {
    /// Copies the config; panics only if the library runs out of memory
    /// (use [`Config::try_clone`] to handle that).
    fn clone(&self) -> Config {
        self.try_clone().expect("byol_config_copy failed")
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.serialize().unwrap_or_default();
        let settings: Vec<&str> = text.lines().collect();
        f.debug_struct("Config")
            .field("non_default", &settings)
            .finish()
    }
}

impl fmt::Display for Config {
    /// The non-default settings, one "key=value" per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.serialize().map_err(|_| fmt::Error)?)
    }
}
