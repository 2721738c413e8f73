//! Writes an event's JSON and notes where each member lies, in the one pass that writes it.
//!
//! Why not serialize, then scan the JSON for its members: the scan cost the host twice what
//! writing the JSON did, on every rule call. This serializer wraps `serde_json`'s: the event
//! and its `user`, `context` and `configuration` objects go through it (it writes their braces,
//! names and commas exactly as `serde_json` would), every value inside them through
//! `serde_json` itself, so the document is byte for byte `serde_json::to_vec`'s.

use serde::ser::{self, Impossible, Serialize};
use serde_json::Error;

use super::{Object, Table};

/// Writes `value` (the event, an object) into `out` and returns the table of its members,
/// with `seed` written as the event's `seed` member whatever `value` holds there.
pub(super) fn record<T: Serialize>(
    value: &T,
    seed: u64,
    out: &mut Vec<u8>,
) -> Result<Table, Error> {
    let mut table = Table::default();
    let origin = out.len();
    value.serialize(Recorder {
        out,
        table: &mut table,
        origin,
        seed,
        object: Object::Event,
    })?;
    Ok(table)
}

/// Serializes one recorded object: the event, or one of its objects whose members are listed.
struct Recorder<'a> {
    out: &'a mut Vec<u8>,
    table: &'a mut Table,
    /// Where the document starts in `out`: offsets in the table count from there.
    origin: usize,
    seed: u64,
    object: Object,
}

impl<'a> Recorder<'a> {
    /// The object whose members a member of this one lists, if any.
    fn nested(&self, key: &str) -> Option<Object> {
        match (self.object, key) {
            (Object::Event, "user") => Some(Object::User),
            (Object::Event, "context") => Some(Object::Context),
            (Object::Event, "configuration") => Some(Object::Configuration),
            _ => None,
        }
    }

    /// Writes one member's value, recording where it lies.
    fn member<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Error> {
        let start = self.out.len();
        match self.nested(key) {
            Some(object) => value.serialize(Recorder {
                out: &mut *self.out,
                table: &mut *self.table,
                origin: self.origin,
                seed: self.seed,
                object,
            })?,
            None if self.object == Object::Event && key == "seed" => {
                serde_json::to_writer(&mut *self.out, &self.seed)?;
            }
            None => value.serialize(&mut serde_json::Serializer::new(&mut *self.out))?,
        }
        let end = self.out.len();
        self.table
            .push(self.object, key, start - self.origin..end - self.origin)
    }
}

/// The members of an object being written: commas between them, a brace at the end.
struct Members<'a> {
    recorder: Recorder<'a>,
    first: bool,
    /// A map's key, written and waiting for its value.
    key: Option<String>,
}

impl Members<'_> {
    fn comma(&mut self) {
        if !self.first {
            self.recorder.out.push(b',');
        }
        self.first = false;
    }

    fn name(&mut self, key: &str) -> Result<(), Error> {
        self.comma();
        serde_json::to_writer(&mut *self.recorder.out, key)?;
        self.recorder.out.push(b':');
        Ok(())
    }
}

impl ser::SerializeStruct for Members<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.name(key)?;
        self.recorder.member(key, value)
    }

    fn end(self) -> Result<(), Error> {
        self.recorder.out.push(b'}');
        Ok(())
    }
}

impl ser::SerializeMap for Members<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.comma();
        let start = self.recorder.out.len();
        serde_json::to_writer(&mut *self.recorder.out, key)?;
        // The table holds names unescaped, as a rule compares them. Most need no unescaping:
        // then they are the bytes between the quotes.
        let written = &self.recorder.out[start..];
        let plain = written
            .get(1..written.len().saturating_sub(1))
            .filter(|inner| !inner.contains(&b'\\'))
            .and_then(|inner| std::str::from_utf8(inner).ok());
        self.key = Some(match plain {
            Some(name) => name.to_owned(),
            None => serde_json::from_slice(written)?,
        });
        self.recorder.out.push(b':');
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self.key.take().unwrap_or_default();
        self.recorder.member(&key, value)
    }

    fn end(self) -> Result<(), Error> {
        self.recorder.out.push(b'}');
        Ok(())
    }
}

fn not_an_object() -> Error {
    ser::Error::custom("only objects are recorded member by member")
}

/// The scalar and sequence methods: a recorded value is always an object.
macro_rules! refuse {
    ($($method:ident($($arg:ty),*);)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<(), Error> { Err(not_an_object()) })*
    };
}

impl<'a> ser::Serializer for Recorder<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Members<'a>;
    type SerializeStruct = Members<'a>;
    type SerializeStructVariant = Impossible<(), Error>;

    refuse! {
        serialize_bool(bool); serialize_i8(i8); serialize_i16(i16); serialize_i32(i32);
        serialize_i64(i64); serialize_u8(u8); serialize_u16(u16); serialize_u32(u32);
        serialize_u64(u64); serialize_f32(f32); serialize_f64(f64); serialize_char(char);
        serialize_str(&str); serialize_bytes(&[u8]); serialize_none(); serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(not_an_object())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(not_an_object())
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(not_an_object())
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(not_an_object())
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(not_an_object())
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Members<'a>, Error> {
        self.out.push(b'{');
        Ok(Members {
            recorder: self,
            first: true,
            key: None,
        })
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Members<'a>, Error> {
        self.serialize_map(None)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(not_an_object())
    }
}
