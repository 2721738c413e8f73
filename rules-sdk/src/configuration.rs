//! [`Configuration`]: the tenant's settings, each decoded when a rule reads it.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::fmt;

use rules_abi::members::Object;

use crate::Lazy;
use crate::lazy::{Input, Source, note_unreadable_setting};

/// The tenant's rule configuration (Auth0's `configuration` global): secrets and settings
/// shared by all rules of the tenant. Read it like a map, `event.configuration.get("NAME")`;
/// only the settings a rule reads are decoded.
#[derive(Clone, Default)]
pub struct Configuration {
    settings: Vec<Setting>,
    /// Every setting at once, for [`Configuration::to_map`].
    all: Lazy<BTreeMap<String, String>>,
}

#[derive(Clone)]
struct Setting {
    name: &'static [u8],
    json: &'static [u8],
    value: OnceCell<String>,
}

impl Configuration {
    pub(crate) fn new(input: &'static Input, all: Source) -> Configuration {
        let settings = input
            .index
            .members(input.bytes, Object::Configuration)
            .map(|(name, json)| Setting {
                name,
                json,
                value: OnceCell::new(),
            })
            .collect();
        Configuration {
            settings,
            all: Lazy::new("configuration", all),
        }
    }

    /// The setting `name`, if the tenant has it.
    pub fn get(&self, name: &str) -> Option<&String> {
        let setting = self
            .settings
            .iter()
            .find(|setting| setting.name == name.as_bytes())?;
        Some(setting.value.get_or_init(|| {
            serde_json::from_slice(setting.json).unwrap_or_else(|error| {
                note_unreadable_setting(name, &error);
                String::new()
            })
        }))
    }

    /// Whether the tenant has the setting `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.settings
            .iter()
            .any(|setting| setting.name == name.as_bytes())
    }

    /// How many settings the tenant has.
    pub fn len(&self) -> usize {
        self.settings.len()
    }

    /// Whether the tenant has no settings.
    pub fn is_empty(&self) -> bool {
        self.settings.is_empty()
    }

    /// Every setting, decoded: for a rule that needs them all.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        Lazy::force(&self.all).clone()
    }
}

impl fmt::Debug for Configuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Setting values are often secrets: names only.
        let names: Vec<String> = self
            .settings
            .iter()
            .map(|setting| String::from_utf8_lossy(setting.name).into_owned())
            .collect();
        f.debug_struct("Configuration")
            .field("names", &names)
            .finish()
    }
}
