//! Upload validation: everything a module must satisfy before it may run.
//!
//! Cheap structural checks come first, on the raw bytes with `wasmparser` and no code
//! generation, so a compile bomb is refused before Cranelift sees it. Full validation and
//! compilation follow under the production configuration; the ABI (imports, exports and their
//! exact signatures) is checked last, on the compiled module's types.

use rules_abi::{ABI_MARKER_PREFIX, HOST_MODULE, exports, imports};
use wasmparser::{Parser, Payload, TypeRef};
use wasmtime::{Engine, ExternType, FuncType, Module};

use crate::{RuleLimits, ValidationError};

/// Caps on a module's structure, beyond its byte size. They bound compile time: Cranelift's
/// cost grows with function count and body size, and compile-time blow-ups are not wasmtime
/// security bugs, so the host must refuse them itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructureLimits {
    pub max_functions: u32,
    pub max_function_body_bytes: usize,
    pub max_data_segments: u32,
    pub max_custom_section_bytes: usize,
}

impl Default for StructureLimits {
    fn default() -> Self {
        StructureLimits {
            max_functions: 10_000,
            max_function_body_bytes: 128 * 1024,
            max_data_segments: 1_000,
            max_custom_section_bytes: 64 * 1024,
        }
    }
}

const WASM_PAGE: u64 = 64 * 1024;
const ELF_MAGIC: &[u8] = b"\x7fELF";
const WASM_MAGIC: &[u8] = b"\0asm";

/// Checks the raw bytes: size, format, and structure caps.
pub(crate) fn check_structure(
    wasm: &[u8],
    limits: &RuleLimits,
    caps: &StructureLimits,
) -> Result<(), ValidationError> {
    if wasm.len() > limits.module_bytes {
        return Err(ValidationError::TooLarge {
            len: wasm.len(),
            max: limits.module_bytes,
        });
    }
    if Engine::detect_precompiled(wasm).is_some() || wasm.starts_with(ELF_MAGIC) {
        return Err(ValidationError::Precompiled);
    }
    if !wasm.starts_with(WASM_MAGIC) {
        return Err(ValidationError::NotWasm);
    }
    if Parser::is_component(wasm) {
        return Err(ValidationError::Component);
    }
    let invalid = |e: wasmparser::BinaryReaderError| ValidationError::Invalid {
        message: e.to_string(),
    };
    let (mut memories, mut functions_seen, mut data_bytes, mut custom_bytes) =
        (0u32, 0u32, 0usize, 0usize);
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(invalid)? {
            Payload::ImportSection(section) => {
                for import in section.into_imports() {
                    let import = import.map_err(invalid)?;
                    let allowed = import.module == HOST_MODULE
                        && import.name == imports::LOG
                        && matches!(import.ty, TypeRef::Func(_));
                    if !allowed {
                        return Err(ValidationError::ForbiddenImport {
                            module: import.module.to_owned(),
                            name: import.name.to_owned(),
                            allowed: format!("the function {HOST_MODULE}::{}", imports::LOG),
                        });
                    }
                }
            }
            Payload::FunctionSection(section) if section.count() > caps.max_functions => {
                return Err(ValidationError::TooManyFunctions {
                    count: section.count(),
                    max: caps.max_functions,
                });
            }
            Payload::TableSection(section) => {
                if section.count() > 1 {
                    return Err(ValidationError::TooManyTables {
                        count: section.count(),
                    });
                }
                for table in section {
                    let initial = table.map_err(invalid)?.ty.initial;
                    if initial > limits.table_elements as u64 {
                        return Err(ValidationError::TableTooLarge {
                            initial,
                            max: limits.table_elements,
                        });
                    }
                }
            }
            Payload::MemorySection(section) => {
                memories += section.count();
                for memory in section {
                    let memory = memory.map_err(invalid)?;
                    if memory.memory64 || memory.shared || memory.page_size_log2.is_some() {
                        return Err(ValidationError::MemoryKind);
                    }
                    let min_bytes = memory.initial.saturating_mul(WASM_PAGE);
                    if min_bytes > limits.memory_bytes as u64 {
                        return Err(ValidationError::MemoryTooLarge {
                            min_bytes,
                            max: limits.memory_bytes,
                        });
                    }
                }
            }
            Payload::StartSection { .. } => return Err(ValidationError::StartFunction),
            Payload::DataSection(section) => {
                if section.count() > caps.max_data_segments {
                    return Err(ValidationError::TooManyDataSegments {
                        count: section.count(),
                        max: caps.max_data_segments,
                    });
                }
                for data in section {
                    data_bytes = data_bytes.saturating_add(data.map_err(invalid)?.data.len());
                }
                if data_bytes > limits.memory_bytes {
                    return Err(ValidationError::DataTooLarge {
                        bytes: data_bytes,
                        max: limits.memory_bytes,
                    });
                }
            }
            Payload::CodeSectionEntry(body) => {
                let len = body.range().len();
                if len > caps.max_function_body_bytes {
                    return Err(ValidationError::FunctionBodyTooLarge {
                        index: functions_seen,
                        len,
                        max: caps.max_function_body_bytes,
                    });
                }
                functions_seen += 1;
            }
            Payload::CustomSection(section) => {
                custom_bytes = custom_bytes.saturating_add(section.range().len());
                if custom_bytes > caps.max_custom_section_bytes {
                    return Err(ValidationError::CustomSectionsTooLarge {
                        bytes: custom_bytes,
                        max: caps.max_custom_section_bytes,
                    });
                }
            }
            _ => {}
        }
    }
    if memories != 1 {
        return Err(ValidationError::MemoryCount { count: memories });
    }
    Ok(())
}

/// Compiles under the production engine; validation errors (disabled proposals included)
/// surface here.
pub(crate) fn compile(engine: &Engine, wasm: &[u8]) -> Result<Module, ValidationError> {
    Module::from_binary(engine, wasm).map_err(|e| ValidationError::Invalid {
        message: format!("{e:#}"),
    })
}

const LOG_SIGNATURE: &str = "(i32, i32) -> ()";
const ALLOC_SIGNATURE: &str = "(i32) -> i32";
const ON_TOKEN_SIGNATURE: &str = "(i32, i32) -> i64";
const MARKER_SIGNATURE: &str = "() -> ()";

/// Checks the ABI on the compiled module's types: exact signatures and the version marker.
/// A module that exports both markers is taken at the newest.
pub(crate) fn check_abi(module: &Module) -> Result<AbiVersion, ValidationError> {
    for import in module.imports() {
        // The structural pass already refused every other import.
        if let ExternType::Func(ty) = import.ty() {
            let found = signature(&ty);
            if found != LOG_SIGNATURE {
                return Err(ValidationError::ImportType {
                    name: import.name().to_owned(),
                    expected: LOG_SIGNATURE.to_owned(),
                    found,
                });
            }
        }
    }
    match module.get_export(exports::MEMORY) {
        Some(ExternType::Memory(_)) => {}
        Some(other) => {
            return Err(ValidationError::ExportType {
                name: exports::MEMORY,
                expected: "a memory",
                found: describe(&other),
            });
        }
        None => {
            return Err(ValidationError::MissingExport {
                name: exports::MEMORY,
            });
        }
    }
    let markers = [(2, exports::ABI_MARKER), (1, exports::ABI_MARKER_V1)];
    let Some((version, marker)) = markers
        .into_iter()
        .find(|(_, marker)| module.get_export(marker).is_some())
    else {
        let other_version = module
            .exports()
            .map(|export| export.name())
            .find(|name| name.starts_with(ABI_MARKER_PREFIX));
        return Err(match other_version {
            Some(found) => ValidationError::AbiVersion {
                found: found.trim_start_matches(ABI_MARKER_PREFIX).to_owned(),
                supported: "1, 2",
            },
            None => ValidationError::MissingExport {
                name: exports::ABI_MARKER,
            },
        });
    };
    for (name, expected) in [
        (marker, MARKER_SIGNATURE),
        (exports::ALLOC, ALLOC_SIGNATURE),
        (exports::ON_TOKEN, ON_TOKEN_SIGNATURE),
    ] {
        match module.get_export(name) {
            Some(ExternType::Func(ty)) if signature(&ty) == expected => {}
            Some(other) => {
                return Err(ValidationError::ExportType {
                    name,
                    expected,
                    found: describe(&other),
                });
            }
            None => return Err(ValidationError::MissingExport { name }),
        }
    }
    Ok(AbiVersion(version))
}

/// The rule ABI a module was built for; it decides how the host encodes the module's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbiVersion(pub u32);

impl AbiVersion {
    /// Encodes `input`, with `seed` as its seed, the way this version reads it.
    pub(crate) fn encode(
        self,
        input: &rules_abi::RuleInput,
        seed: u64,
    ) -> serde_json::Result<Vec<u8>> {
        match self.0 {
            1 => rules_abi::members::json_with_seed(input, seed),
            _ => rules_abi::members::encode_with_seed(input, seed),
        }
    }
}

fn signature(ty: &FuncType) -> String {
    let params: Vec<String> = ty.params().map(|p| p.to_string()).collect();
    let results: Vec<String> = ty.results().map(|r| r.to_string()).collect();
    let results = match results.as_slice() {
        [] => "()".to_owned(),
        [one] => one.clone(),
        many => format!("({})", many.join(", ")),
    };
    format!("({}) -> {results}", params.join(", "))
}

fn describe(ty: &ExternType) -> String {
    match ty {
        ExternType::Func(func) => format!("a function {}", signature(func)),
        ExternType::Memory(_) => "a memory".to_owned(),
        ExternType::Table(_) => "a table".to_owned(),
        ExternType::Global(_) => "a global".to_owned(),
        ExternType::Tag(_) => "a tag".to_owned(),
    }
}
