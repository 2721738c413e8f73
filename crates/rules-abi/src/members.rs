//! ABI version 2's input: the version-1 JSON document followed by a table that locates each
//! member of the event, of its `configuration`, of its `context` and of its `user` in that
//! document.
//!
//! Why: in version 1 a Rust rule parsed the whole ~1 KB event before running, and that parse
//! was 60,000 of the 80,000–98,000 fuel units a typical rule used; merely scanning the JSON
//! for its structure costs about 21,000. With the table a rule decodes only the members it
//! reads (a role list, one setting), and finds them without scanning anything.
//! Every value stays JSON, so its meaning (numbers, nesting, unknown fields) is version 1's.
//!
//! Layout; every integer is a little-endian `u32` unless said otherwise:
//!
//! ```text
//! document length D, then D bytes: the event as compact JSON, exactly version 1's input
//! entry count N, then N entries, each:
//!     object  (u8: 0 the event, 1 its `user`, 2 its `context`, 3 its `configuration`)
//!     key length K (u8), then K bytes of key (UTF-8, the member's name, unescaped)
//!     value start (offset into the document), value length
//! ```
//!
//! A reader ignores objects and keys it does not know (the host may add members), and treats
//! a member that is not listed as absent (the host leaves defaults out, as in version 1).

use std::collections::BTreeMap;
use std::ops::Range;

use serde_json::value::RawValue;

use crate::RuleInput;

mod recorder;

/// The objects whose members the table lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// The event itself: `user`, `context`, `configuration`, `now`, `seed`.
    Event,
    /// `event.user`.
    User,
    /// `event.context`.
    Context,
    /// `event.configuration`: one entry per setting, so a rule decodes only those it reads.
    Configuration,
}

impl Object {
    fn code(self) -> u8 {
        match self {
            Object::Event => 0,
            Object::User => 1,
            Object::Context => 2,
            Object::Configuration => 3,
        }
    }

    fn from_code(code: u8) -> Option<Object> {
        match code {
            0 => Some(Object::Event),
            1 => Some(Object::User),
            2 => Some(Object::Context),
            3 => Some(Object::Configuration),
            _ => None,
        }
    }
}

/// One entry of the table: where a member's JSON value lies in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member<'a> {
    /// `None` for an object this reader does not know.
    pub object: Option<Object>,
    pub key: &'a str,
    /// The value's first byte in the document.
    pub start: usize,
    /// The value's length in bytes.
    pub len: usize,
}

/// Why an input could not be read as version 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberError(&'static str);

impl std::fmt::Display for MemberError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed ABI v2 input: {}", self.0)
    }
}

impl std::error::Error for MemberError {}

/// Encodes `input` for a version-2 module: the JSON is written once, and the table from what
/// was noted while writing it.
pub fn encode(input: &RuleInput) -> serde_json::Result<Vec<u8>> {
    encode_with_seed(input, input.seed)
}

/// [`encode`], with `seed` written as the event's `seed` in place of `input.seed`.
///
/// Why: a chain gives each rule a seed of its own, and this spares it a copy of the whole
/// event per rule just to change one number.
pub fn encode_with_seed(input: &RuleInput, seed: u64) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(4096);
    // The document's length goes here once it is known.
    out.extend_from_slice(&[0; 4]);
    let table = recorder::record(input, seed, &mut out)?;
    let document_len = out.len() - 4;
    out[..4].copy_from_slice(&len_u32(document_len).to_le_bytes());
    table.write(&mut out);
    Ok(out)
}

/// Version 1's input: the event's JSON alone, with `seed` as its seed (as [`encode_with_seed`]).
pub fn json_with_seed(input: &RuleInput, seed: u64) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(4096);
    recorder::record(input, seed, &mut out)?;
    Ok(out)
}

/// Encodes an event already written as JSON (one object, with `user`, `context` and
/// `configuration` objects if present): a table is built for whatever members it has, known or
/// not, by scanning the JSON. Entries come in the order a rule most often looks them up: the
/// event's own members and settings first, then the context, then the user.
pub fn encode_document(document: &[u8]) -> serde_json::Result<Vec<u8>> {
    let event: BTreeMap<&str, &RawValue> = serde_json::from_slice(document)?;
    let mut table = Table::default();
    // The value is a slice of `document`: its offset is the distance between the two.
    let at = |value: &RawValue| {
        let start = value.get().as_ptr() as usize - document.as_ptr() as usize;
        start..start + value.get().len()
    };
    for (key, value) in &event {
        table.push(Object::Event, key, at(value))?;
    }
    if let Some(value) = event.get("configuration") {
        // Setting names are the tenant's: read them unescaped, whatever they hold.
        let settings: BTreeMap<String, &RawValue> = serde_json::from_str(value.get())?;
        for (key, value) in &settings {
            table.push(Object::Configuration, key, at(value))?;
        }
    }
    for (object, key) in [(Object::Context, "context"), (Object::User, "user")] {
        if let Some(value) = event.get(key) {
            let members: BTreeMap<&str, &RawValue> = serde_json::from_str(value.get())?;
            for (key, value) in &members {
                table.push(object, key, at(value))?;
            }
        }
    }
    let mut out = Vec::with_capacity(8 + document.len() + table.len_bytes());
    out.extend_from_slice(&len_u32(document.len()).to_le_bytes());
    out.extend_from_slice(document);
    table.write(&mut out);
    Ok(out)
}

/// The table being built: its entries already in their wire form, one buffer per object, so
/// they come out in lookup order (the event's, its settings, context, user) without sorting
/// or keeping each name apart.
#[derive(Debug, Default)]
struct Table {
    /// Indexed by [`Table::rank`].
    entries: [Vec<u8>; 4],
    count: usize,
}

impl Table {
    /// Where `object`'s entries go: the order a rule looks members up in most.
    fn rank(object: Object) -> usize {
        match object {
            Object::Event => 0,
            Object::Configuration => 1,
            Object::Context => 2,
            Object::User => 3,
        }
    }

    /// Notes that `object`'s member `key` lies at `value` in the document.
    fn push(&mut self, object: Object, key: &str, value: Range<usize>) -> serde_json::Result<()> {
        let key_len = u8::try_from(key.len())
            .map_err(|_| serde::ser::Error::custom(format!("member name {key:?} is too long")))?;
        let entries = &mut self.entries[Table::rank(object)];
        entries.push(object.code());
        entries.push(key_len);
        entries.extend_from_slice(key.as_bytes());
        entries.extend_from_slice(&len_u32(value.start).to_le_bytes());
        entries.extend_from_slice(&len_u32(value.len()).to_le_bytes());
        self.count += 1;
        Ok(())
    }

    /// The entries' size on the wire, the count not included.
    fn len_bytes(&self) -> usize {
        self.entries.iter().map(Vec::len).sum()
    }

    /// Appends the table: the entry count, then each entry.
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&len_u32(self.count).to_le_bytes());
        for entries in &self.entries {
            out.extend_from_slice(entries);
        }
    }
}

/// Inputs are capped far below 4 GiB (the host's input limit), so this never saturates.
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Splits a version-2 input into its JSON document and its table, checking every bound.
pub fn decode(input: &[u8]) -> Result<(&[u8], Vec<Member<'_>>), MemberError> {
    let index = Index::new(input)?;
    let document = &input[index.document.clone()];
    let members = index
        .entries
        .iter()
        .map(|entry| {
            let key = std::str::from_utf8(&input[entry.key.clone()])
                .map_err(|_| MemberError("a member name is not UTF-8"))?;
            Ok(Member {
                object: Object::from_code(entry.object),
                key,
                start: entry.value.start - index.document.start,
                len: entry.value.len(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((document, members))
}

/// Where everything lies in one version-2 input, every bound checked once: what a rule keeps
/// to find the members it reads. Names are compared as bytes, never decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    document: Range<usize>,
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    object: u8,
    key: Range<usize>,
    value: Range<usize>,
}

impl Index {
    /// Reads the table of `input`.
    pub fn new(input: &[u8]) -> Result<Index, MemberError> {
        let ends_early = MemberError("the input ends early");
        let document_len = read_u32(input, 0).ok_or(ends_early.clone())?;
        let document = 4..4usize.checked_add(document_len).ok_or(ends_early.clone())?;
        let count = read_u32(input, document.end).ok_or(ends_early.clone())?;
        // Each entry takes at least 10 bytes: a larger count is a lie, not an allocation.
        if count > input.len() / 10 {
            return Err(MemberError("the entry count exceeds the input"));
        }
        let mut entries = Vec::with_capacity(count);
        let mut at = document.end + 4;
        for _ in 0..count {
            let header = input.get(at..at + 2).ok_or(ends_early.clone())?;
            let key = at + 2..at + 2 + usize::from(header[1]);
            let start = read_u32(input, key.end).ok_or(ends_early.clone())?;
            let len = read_u32(input, key.end + 4).ok_or(ends_early.clone())?;
            if start.checked_add(len).is_none_or(|end| end > document_len) {
                return Err(MemberError("a member lies outside the document"));
            }
            entries.push(Entry {
                object: header[0],
                key: key.clone(),
                value: document.start + start..document.start + start + len,
            });
            at = key.end + 8;
        }
        if at != input.len() {
            return Err(MemberError("bytes follow the table"));
        }
        Ok(Index { document, entries })
    }

    /// Every member of `object` in `input` (the input this index was made from): its name's
    /// bytes and its JSON.
    pub fn members<'a>(
        &self,
        input: &'a [u8],
        object: Object,
    ) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        let code = object.code();
        self.entries
            .iter()
            .filter(move |entry| entry.object == code)
            .filter_map(move |entry| {
                Some((
                    input.get(entry.key.clone())?,
                    input.get(entry.value.clone())?,
                ))
            })
    }

    /// The JSON of `object`'s member `key` in `input` (the input this index was made from);
    /// `None` if the host left it out.
    pub fn find<'a>(&self, input: &'a [u8], object: Object, key: &str) -> Option<&'a [u8]> {
        let code = object.code();
        let entry = self.entries.iter().find(|entry| {
            entry.object == code
                && entry.key.len() == key.len()
                && input.get(entry.key.clone()) == Some(key.as_bytes())
        })?;
        input.get(entry.value.clone())
    }
}

/// The little-endian `u32` at `at`, if the input holds one there.
fn read_u32(input: &[u8], at: usize) -> Option<usize> {
    let bytes: [u8; 4] = input.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(bytes) as usize)
}
