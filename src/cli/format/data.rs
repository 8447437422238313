//! The items a template runs on, converted from JSON for the template engine, with what the
//! engine's values cannot hold: each object's field order and JSON names (for `{{json .X}}`),
//! and whether it stands for a Go struct, whose missing fields are errors, or a Go map, whose
//! missing keys print `<no value>`. Conversion only: nothing here renders or prints.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use anyhow::anyhow;
use gotmpl::Value;

/// The items converted for the template engine, plus the shape of every object in them (see
/// [`KeyOrder`]).
pub(super) struct Data {
    pub items: Vec<Value>,
    pub order: Arc<KeyOrder>,
}

impl Data {
    /// Items whose keys are already the names templates use; their nested objects may be
    /// maps or structs, so only the items' own fields are checked.
    pub fn new(items: &[serde_json::Value]) -> Self {
        Self::convert(items, None)
    }

    /// Items that are Go structs encoded with JSON names other than their field names.
    pub fn new_struct(items: &[serde_json::Value], names: &GoStruct<'_>) -> Self {
        Self::convert(items, Some(names))
    }

    fn convert(items: &[serde_json::Value], names: Option<&GoStruct<'_>>) -> Self {
        let mut order = KeyOrder::default();
        let items = items
            .iter()
            .map(|v| order.convert(v, names, names.is_some()))
            .collect();
        Data {
            items,
            order: Arc::new(order),
        }
    }
}

/// How a Go struct's fields are named where its JSON encoding names them otherwise (as
/// `podman info`'s `define.Info`: `host`/`Host`, `idMappings`/`IDMappings`), whose null fields
/// are nil slices.
pub struct GoStruct<'a> {
    /// The Go name of a field from its JSON key.
    pub field_name: fn(&str) -> String,
    /// JSON keys whose values are Go maps: their keys are not renamed and a missing one
    /// prints `<no value>`; the objects they hold are structs again.
    pub maps: &'a [&'a str],
}

/// What the engine cannot keep of an object: its keys in input order, each with its JSON
/// name, and whether it is a Go struct.
pub(super) struct Shape {
    /// (the key the engine holds, its JSON name).
    pub keys: Vec<(Arc<str>, Arc<str>)>,
    /// A Go struct known as such, whose missing fields are errors.
    pub is_struct: bool,
}

/// The engine keeps objects in sorted maps, which is right for printing a
/// map (`map[a:1 b:2]`, as Go sorts map keys) but loses the field order that
/// `{{json .Config}}` must keep (Go encodes a struct in declaration order).
/// Each converted object is remembered by the address of its shared map, so
/// the `json` function can restore the order of any object from the input,
/// however the template reached it. The converted items outlive every
/// template run, so an address cannot be reused while it is looked up.
#[derive(Default)]
pub(super) struct KeyOrder {
    shapes: HashMap<usize, Shape>,
    /// Empty lists that stand for a struct's null field: Go's nil slice, which a template
    /// prints as `[]` and `json` encodes as `null`.
    nil_lists: HashSet<usize>,
}

type MapArc = Arc<BTreeMap<Arc<str>, Value>>;

fn map_addr(m: &MapArc) -> usize {
    Arc::as_ptr(m) as usize
}

impl KeyOrder {
    /// serde_json → engine value. Numbers that are whole become integers so
    /// they print as Go prints an int (`1000000`, never `1e+06` or `1.0`).
    /// With `names`, an object that `is_struct` gets its fields' Go names.
    fn convert(
        &mut self,
        v: &serde_json::Value,
        names: Option<&GoStruct<'_>>,
        is_struct: bool,
    ) -> Value {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => convert_number(n),
            serde_json::Value::String(s) => Value::String(Arc::from(s.as_str())),
            serde_json::Value::Array(a) => Value::List(
                a.iter()
                    .map(|x| self.convert(x, names, is_struct))
                    .collect::<Vec<_>>()
                    .into(),
            ),
            serde_json::Value::Object(o) => {
                let mut map = BTreeMap::new();
                let mut keys = Vec::with_capacity(o.len());
                for (k, x) in o {
                    let json_key: Arc<str> = Arc::from(k.as_str());
                    let (key, inner_struct) = match names {
                        Some(names) if is_struct => (
                            Arc::from((names.field_name)(k).as_str()),
                            !names.maps.contains(&k.as_str()),
                        ),
                        // The values of the Go maps in `podman info` (the registries by
                        // prefix) are structs again.
                        Some(_) => (Arc::clone(&json_key), true),
                        None => (Arc::clone(&json_key), false),
                    };
                    keys.push((Arc::clone(&key), json_key));
                    let value = match x {
                        // The null fields of the structs behind `podman info` are all slices.
                        serde_json::Value::Null if names.is_some() && is_struct => {
                            let nil: Arc<[Value]> = Arc::from(Vec::new());
                            self.nil_lists
                                .insert(Arc::as_ptr(&nil) as *const u8 as usize);
                            Value::List(nil)
                        }
                        _ => self.convert(x, names, inner_struct),
                    };
                    map.insert(key, value);
                }
                let map = Arc::new(map);
                self.shapes
                    .insert(map_addr(&map), Shape { keys, is_struct });
                Value::Map(map)
            }
        }
    }

    /// Whether `map` (converted here) stands for a Go struct.
    pub fn is_struct(&self, map: &MapArc) -> bool {
        self.shapes.get(&map_addr(map)).is_some_and(|s| s.is_struct)
    }

    /// Engine value → serde_json, restoring recorded key order and JSON names.
    pub fn to_json(&self, v: &Value) -> anyhow::Result<serde_json::Value> {
        Ok(match v {
            Value::Nil => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(n) => serde_json::Value::from(*n),
            Value::Uint(n) => serde_json::Value::from(*n),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::List(l)
                if self
                    .nil_lists
                    .contains(&(Arc::as_ptr(l) as *const u8 as usize)) =>
            {
                serde_json::Value::Null
            }
            Value::List(l) => serde_json::Value::Array(
                l.iter()
                    .map(|x| self.to_json(x))
                    .collect::<anyhow::Result<_>>()?,
            ),
            Value::Map(m) => {
                let mut obj = serde_json::Map::new();
                match self.shapes.get(&map_addr(m)) {
                    Some(shape) => {
                        for (key, json_key) in &shape.keys {
                            if let Some(x) = m.get(key) {
                                obj.insert(json_key.to_string(), self.to_json(x)?);
                            }
                        }
                    }
                    None => {
                        for (k, x) in m.iter() {
                            obj.insert(k.to_string(), self.to_json(x)?);
                        }
                    }
                }
                serde_json::Value::Object(obj)
            }
            other => return Err(anyhow!("json: unsupported type {}", other.type_name())),
        })
    }
}

fn convert_number(n: &serde_json::Number) -> Value {
    if let Some(i) = n.as_i64() {
        return Value::Int(i);
    }
    if let Some(u) = n.as_u64() {
        return Value::Uint(u);
    }
    match n.as_f64() {
        // Whole floats in i64 range print as integers, as Go prints the int
        // fields these numbers came from.
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Value::Int(f as i64),
        Some(f) => Value::Float(f),
        None => Value::Nil,
    }
}
