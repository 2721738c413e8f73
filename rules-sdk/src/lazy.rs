//! [`Lazy`]: one member of the event, decoded from its JSON the first time a rule reads it.

use std::cell::{OnceCell, RefCell};
use std::fmt;
use std::ops::Deref;

use rules_abi::members::{self, Object};
use serde::de::DeserializeOwned;

thread_local! {
    /// The first member that could not be decoded during this call. The dispatcher turns it
    /// into a refusal after the rule returns: a rule that read garbage must not issue tokens.
    static UNREADABLE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Takes (and clears) the reason the last call's input could not be read, if any.
pub(crate) fn take_unreadable() -> Option<String> {
    UNREADABLE.with(|cell| cell.borrow_mut().take())
}

fn note_unreadable(member: &str, error: &serde_json::Error) {
    UNREADABLE.with(|cell| {
        cell.borrow_mut()
            .get_or_insert_with(|| format!("member {member}: {error}"));
    });
}

/// The call's input and the index of where its members lie. Shared by every [`Lazy`] of the
/// event, each of which looks its member up on first use, so members a rule never reads cost
/// nothing at all.
///
/// It lives as long as the instance: a rule call's instance is thrown away after the call, so
/// nothing is ever freed there, and sharing by plain reference spares every member a count.
pub(crate) struct Input {
    pub(crate) bytes: &'static [u8],
    pub(crate) index: members::Index,
}

pub(crate) fn note_unreadable_setting(name: &str, error: &serde_json::Error) {
    note_unreadable(&format!("configuration.{name}"), error);
}

/// Which member a [`Lazy`] is, and the input to find it in.
#[derive(Clone)]
pub(crate) struct Source {
    pub(crate) input: &'static Input,
    pub(crate) object: Object,
    pub(crate) key: &'static str,
}

impl Source {
    /// The member's JSON, or `None` if the host left it out.
    fn json(&self) -> Option<&[u8]> {
        self.input
            .index
            .find(self.input.bytes, self.object, self.key)
    }
}

/// A member of the [`Event`](crate::Event), decoded on first use and kept.
///
/// It dereferences to the value, so a rule reads it like a field:
/// `event.context.authorization.roles`, `event.user.app_metadata.get("plan")`,
/// `event.context.protocol == Protocol::OAuth2Password`. A member the rule never reads is
/// never decoded, which is most of them. A member the host left out (its default) reads as
/// the default; one that cannot be decoded also reads as the default, and the issuance is
/// refused after the rule returns.
pub struct Lazy<T> {
    member: &'static str,
    source: Option<Source>,
    value: OnceCell<T>,
}

impl<T> Lazy<T> {
    pub(crate) fn new(member: &'static str, source: Source) -> Lazy<T> {
        // `member` names it in errors: `user.app_metadata`.
        Lazy {
            member,
            source: Some(source),
            value: OnceCell::new(),
        }
    }

    /// The member's JSON as the host sent it (`None` when the host left it out), without
    /// decoding it. An associated function, like [`Lazy::force`], so it never hides a method
    /// of the value.
    pub fn raw_json(this: &Lazy<T>) -> Option<&str> {
        std::str::from_utf8(this.source.as_ref()?.json()?).ok()
    }
}

impl<T> Lazy<T> {
    #[cfg(test)]
    pub(crate) fn is_decoded(this: &Lazy<T>) -> bool {
        this.value.get().is_some()
    }
}

impl<T: DeserializeOwned + Default> Lazy<T> {
    /// A member holding `value`, already decoded: for building an event by hand.
    pub fn from_value(value: T) -> Lazy<T> {
        Lazy {
            member: "",
            source: None,
            value: OnceCell::from(value),
        }
    }

    /// The value, decoding it now if this is its first use. Dereferencing does the same; this
    /// is an associated function (`Lazy::force(&event.now)`) so that it never hides a method
    /// of the value, such as a map's `get`.
    pub fn force(this: &Lazy<T>) -> &T {
        this.value.get_or_init(|| this.decode())
    }

    fn decode(&self) -> T {
        let Some(json) = self.source.as_ref().and_then(Source::json) else {
            return T::default();
        };
        serde_json::from_slice(json).unwrap_or_else(|error| {
            note_unreadable(self.member, &error);
            T::default()
        })
    }
}

impl<T: DeserializeOwned + Default> Deref for Lazy<T> {
    type Target = T;

    fn deref(&self) -> &T {
        Lazy::force(self)
    }
}

impl<T> Default for Lazy<T> {
    fn default() -> Lazy<T> {
        Lazy {
            member: "",
            source: None,
            value: OnceCell::new(),
        }
    }
}

impl<T: Clone> Clone for Lazy<T> {
    fn clone(&self) -> Lazy<T> {
        Lazy {
            member: self.member,
            source: self.source.clone(),
            value: self.value.clone(),
        }
    }
}

impl<T: DeserializeOwned + Default + PartialEq> PartialEq<T> for Lazy<T> {
    fn eq(&self, other: &T) -> bool {
        Lazy::force(self) == other
    }
}

impl<T: DeserializeOwned + Default + fmt::Debug> fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Lazy::force(self).fmt(f)
    }
}

impl<T: DeserializeOwned + Default + fmt::Display> fmt::Display for Lazy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Lazy::force(self).fmt(f)
    }
}
