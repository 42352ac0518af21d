//! The functions an evaluation adds to `jsonata-rs`: AWS's own (`$partition`, `$range`, `$hash`,
//! `$random`, `$uuid`, `$parse`, the first three sharing their code with the intrinsics
//! `States.ArrayPartition`, `States.ArrayRange` and `States.Hash`), the standard functions
//! `jsonata-rs` lacks (`$average`, `$type`, `$spread`, `$shuffle`, `$sift`), and ours in place of
//! those it gets wrong for AWS (`$random`, `$uuid`, `$append`, `$match`, `$pad`; see [`REBOUND`]).
//!
//! Randomness (`$random()`, `$uuid()`, `$shuffle`) is reproducible: an evaluation that may need
//! it takes one value from the caller's [`Bindings::draw`](super::Bindings::draw) and derives
//! every draw of that evaluation from it (functions are plain `fn` pointers, so the seed lives in
//! a thread-local for the duration of the call).

use std::cell::Cell;

use bumpalo::Bump;
use jsonata_rs::{ArrayFlags, Error as JError, FunctionContext, JsonAta, Value as JValue};
use serde_json::Value;

use super::order::entries_in_order;
use super::{from_json, to_json};
use crate::eval::intrinsic::{self, Argument};
use crate::eval::random::{pseudo_uuid, splitmix64};
use crate::limits;

/// Functions `jsonata-rs` gets wrong for AWS, with the hidden names of ours: the seeded
/// `$random` and `$uuid`, `$append` (never a sequence), `$match` (JavaScript's index and
/// singleton) and `$pad` (a width past the payload limit is an error, not an abort).
/// `jsonata-rs` binds its own at every evaluation, over any registered function of the same name,
/// so an expression that uses them is evaluated inside a block that rebinds them first.
pub(super) const REBOUND: [(&str, &str); 5] = [
    ("$random", "$__asl_random"),
    ("$uuid", "$__asl_uuid"),
    ("$append", "$__asl_append"),
    ("$match", "$__asl_match"),
    ("$pad", "$__asl_pad"),
];

thread_local! {
    /// The draws of the evaluation running on this thread; `None` outside one.
    static DRAWS: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Sets [`DRAWS`] for one evaluation and restores the previous state when dropped.
pub(super) struct DrawScope(Option<u64>);

impl DrawScope {
    pub(super) fn enter(seed: u64) -> Self {
        DrawScope(DRAWS.replace(Some(seed)))
    }
}

impl Drop for DrawScope {
    fn drop(&mut self) {
        DRAWS.set(self.0);
    }
}

/// The next random value of the running evaluation.
fn next_draw() -> u64 {
    let state = DRAWS.get().unwrap_or_default();
    DRAWS.set(Some(state.wrapping_add(1)));
    splitmix64(state)
}

type JResult<'a> = jsonata_rs::Result<&'a JValue<'a>>;

pub(super) fn register_functions<'a>(jsonata: &JsonAta<'a>, arena: &'a Bump) {
    jsonata.register_function("average", 1, fn_average);
    jsonata.register_function("type", 1, fn_type);
    jsonata.register_function("spread", 1, fn_spread);
    jsonata.register_function("shuffle", 1, fn_shuffle);
    jsonata.register_function("sift", 2, fn_sift);
    jsonata.register_function("partition", 2, fn_partition);
    jsonata.register_function("range", 3, fn_range);
    jsonata.register_function("hash", 2, fn_hash);
    jsonata.register_function("parse", 1, fn_parse);

    jsonata.assign_var(
        "__asl_random",
        JValue::nativefn(arena, "random", 1, fn_random),
    );
    jsonata.assign_var("__asl_uuid", JValue::nativefn(arena, "uuid", 0, fn_uuid));
    jsonata.assign_var(
        "__asl_append",
        JValue::nativefn(arena, "append", 2, fn_append),
    );
    jsonata.assign_var("__asl_match", JValue::nativefn(arena, "match", 3, fn_match));
    jsonata.assign_var("__asl_pad", JValue::nativefn(arena, "pad", 3, fn_pad));
}

fn arg<'a>(args: &[&'a JValue<'a>], index: usize) -> &'a JValue<'a> {
    args.get(index).copied().unwrap_or_else(JValue::undefined)
}

/// JSONata's "argument does not match the function signature" (`index` counts from 1).
fn bad_arg<'a>(ctx: &FunctionContext<'a, '_>, index: usize) -> JResult<'a> {
    Err(JError::T0410ArgumentNotValid(
        ctx.char_index,
        index,
        ctx.name.to_owned(),
    ))
}

/// `$average(array)`: the mean of the numbers; undefined for nothing or an empty array.
fn fn_average<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let values = arg(args, 0);
    if values.is_undefined() {
        return Ok(JValue::undefined());
    }
    let values = JValue::wrap_in_array_if_needed(ctx.arena, values, ArrayFlags::empty());
    let mut sum = 0.0;
    for member in values.members() {
        if !member.is_number() {
            return Err(JError::T0412ArgumentMustBeArrayOfType(
                ctx.char_index,
                1,
                ctx.name.to_owned(),
                "number".to_owned(),
            ));
        }
        sum += member.as_f64();
    }
    if values.is_empty() {
        return Ok(JValue::undefined());
    }
    Ok(JValue::number(ctx.arena, sum / values.len() as f64))
}

/// `$type(value)`: the JSONata type name; undefined for nothing.
fn fn_type<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let value = arg(args, 0);
    let name = match value {
        JValue::Undefined => return Ok(JValue::undefined()),
        JValue::Null => "null",
        JValue::Number(_) => "number",
        JValue::String(_) => "string",
        JValue::Bool(_) => "boolean",
        JValue::Array(..) | JValue::Range(..) => "array",
        JValue::Object(..) => "object",
        _ => "function",
    };
    Ok(JValue::string(ctx.arena, name))
}

/// `$spread(value)`: an object split into single-member objects, through arrays.
fn fn_spread<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    fn spread<'a>(arena: &'a Bump, value: &'a JValue<'a>, out: &mut Vec<&'a JValue<'a>>) {
        match value {
            JValue::Array(..) | JValue::Range(..) => value
                .members()
                .for_each(|member| spread(arena, member, out)),
            JValue::Object(..) => {
                for (key, member) in entries_in_order(value) {
                    let single = JValue::object_with_capacity(arena, 1);
                    single.insert(&key, member);
                    out.push(single);
                }
            }
            JValue::Undefined => {}
            other => out.push(other),
        }
    }
    let value = arg(args, 0);
    if !(value.is_array() || value.is_object()) {
        return Ok(value);
    }
    let mut parts = Vec::new();
    spread(ctx.arena, value, &mut parts);
    let result = JValue::array_with_capacity(ctx.arena, parts.len(), ArrayFlags::SEQUENCE);
    parts.into_iter().for_each(|part| result.push(part));
    Ok(result)
}

/// `$shuffle(array)`: the items in an order drawn from the evaluation's seed.
fn fn_shuffle<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let values = arg(args, 0);
    if values.is_undefined() {
        return Ok(values);
    }
    let values = JValue::wrap_in_array_if_needed(ctx.arena, values, ArrayFlags::empty());
    let mut items: Vec<&'a JValue<'a>> = values.members().collect();
    // Fisher-Yates.
    for last in (1..items.len()).rev() {
        let pick = (next_draw() % (last as u64 + 1)) as usize;
        items.swap(last, pick);
    }
    let result = JValue::array_with_capacity(ctx.arena, items.len(), ArrayFlags::empty());
    items.into_iter().for_each(|item| result.push(item));
    Ok(result)
}

/// `$sift(object, function)`: the members for which `function(value, key, object)` is truthy;
/// undefined when none is.
fn fn_sift<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let (object, function) = (arg(args, 0), arg(args, 1));
    if object.is_undefined() {
        return Ok(object);
    }
    if !object.is_object() {
        return bad_arg(&ctx, 1);
    }
    if !function.is_function() {
        return bad_arg(&ctx, 2);
    }
    let arity = function.arity();
    let result = JValue::object(ctx.arena);
    let mut kept = 0;
    for (key, member) in entries_in_order(object) {
        let key_value: &'a JValue<'a> = JValue::string(ctx.arena, &key);
        let call_args: Vec<&'a JValue<'a>> = [member, key_value, object]
            .into_iter()
            .take(arity.max(1))
            .collect();
        let keep = ctx.trampoline_evaluate_value(ctx.evaluate_function(function, &call_args)?)?;
        if keep.is_truthy() {
            result.insert(&key, member);
            kept += 1;
        }
    }
    if kept == 0 {
        return Ok(JValue::undefined());
    }
    Ok(result)
}

/// `$append(a, b)`: one array of both (a value that is not an array counts as one item). Like
/// JavaScript's `concat`, the result is a plain array, never a sequence: `$append(1, [])` is `[1]`.
fn fn_append<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let (first, second) = (arg(args, 0), arg(args, 1));
    if first.is_undefined() {
        return Ok(second);
    }
    if second.is_undefined() {
        return Ok(first);
    }
    let result = JValue::array(ctx.arena, ArrayFlags::empty());
    for part in [first, second] {
        if part.is_array() {
            part.members().for_each(|member| result.push(member));
        } else {
            result.push(part);
        }
    }
    Ok(result)
}

/// `$match(text, pattern[, limit])`: a sequence of `{"match", "index", "groups"}`, one per match;
/// `index` is where the match starts in UTF-16 code units, as in JavaScript.
fn fn_match<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let (text, pattern, limit) = (arg(args, 0), arg(args, 1), arg(args, 2));
    if text.is_undefined() {
        return Ok(text);
    }
    if !text.is_string() {
        return bad_arg(&ctx, 1);
    }
    let JValue::Regex(pattern) = pattern else {
        return bad_arg(&ctx, 2);
    };
    let limit = if limit.is_undefined() {
        usize::MAX
    } else if limit.is_number() {
        limit.as_f64().max(0.0) as usize
    } else {
        return bad_arg(&ctx, 3);
    };
    let text = text.as_str();
    let result = JValue::array(ctx.arena, ArrayFlags::SEQUENCE);
    for found in pattern.get_regex().find_iter(&text).take(limit) {
        let groups = JValue::array(ctx.arena, ArrayFlags::empty());
        for group in found.groups().skip(1) {
            let captured = group.map_or("", |range| &text[range]);
            groups.push(JValue::string(ctx.arena, captured));
        }
        let index = text[..found.start()].encode_utf16().count();
        let object = JValue::object(ctx.arena);
        object.insert("match", JValue::string(ctx.arena, &text[found.range()]));
        object.insert("index", JValue::number(ctx.arena, index as f64));
        object.insert("groups", groups);
        result.push(object);
    }
    Ok(result)
}

/// `$pad(text, width[, chars])`: `text` padded with `chars` (a space by default) to `|width|`
/// characters, on the right for a positive width, on the left for a negative one. A width whose
/// result could not fit in a state's payload is an error rather than an allocation.
fn fn_pad<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let (text, width, chars) = (arg(args, 0), arg(args, 1), arg(args, 2));
    if text.is_undefined() {
        return Ok(text);
    }
    if !text.is_string() {
        return bad_arg(&ctx, 1);
    }
    if !width.is_number() {
        return bad_arg(&ctx, 2);
    }
    let width = width.as_f64().trunc();
    if width.abs() > limits::PAYLOAD_BYTES as f64 {
        return Err(JError::D3137Error(format!(
            "$pad: a width of {width} characters cannot fit in a {}-byte state payload",
            limits::PAYLOAD_BYTES
        )));
    }
    let chars = if chars.is_undefined() {
        " ".to_owned()
    } else if chars.is_string() {
        chars.as_str().into_owned()
    } else {
        return bad_arg(&ctx, 3);
    };
    let chars = if chars.is_empty() {
        " ".to_owned()
    } else {
        chars
    };
    let text = text.as_str();
    let missing = (width.abs() as usize).saturating_sub(text.chars().count());
    let padding: String = chars.chars().cycle().take(missing).collect();
    let padded = if width > 0.0 {
        format!("{text}{padding}")
    } else {
        format!("{padding}{text}")
    };
    Ok(JValue::string(ctx.arena, &padded))
}

/// Calls the intrinsic `name` (which AWS's JSONata function `ctx.name` mirrors) on the
/// arguments as JSON; undefined when the first argument is.
fn via_intrinsic<'a>(
    ctx: &FunctionContext<'a, '_>,
    name: &str,
    args: &[&'a JValue<'a>],
) -> JResult<'a> {
    if arg(args, 0).is_undefined() {
        return Ok(JValue::undefined());
    }
    let mut arguments = Vec::with_capacity(args.len());
    for (index, value) in args.iter().enumerate() {
        match to_json(value) {
            Ok(Some(value)) => arguments.push(Argument {
                value,
                written: None,
            }),
            _ => return bad_arg(ctx, index + 1),
        }
    }
    // These intrinsics draw nothing.
    match intrinsic::call(name, &arguments, &|| 0) {
        Ok(value) => Ok(from_json(ctx.arena, &value)),
        Err(error) => Err(JError::D3137Error(
            error.to_string().replace(name, &format!("${}", ctx.name)),
        )),
    }
}

/// `$partition(array, size)`: the array in chunks of `size` (the last may be shorter).
fn fn_partition<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    via_intrinsic(&ctx, "States.ArrayPartition", args)
}

/// `$range(start, end, step)`: `start`, `start + step`, … up to `end` inclusive.
fn fn_range<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    via_intrinsic(&ctx, "States.ArrayRange", args)
}

/// `$hash(data, algorithm)`: the lowercase hex digest (MD5, SHA-1, SHA-256, SHA-384, SHA-512).
fn fn_hash<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    via_intrinsic(&ctx, "States.Hash", args)
}

/// `$parse(text)`: the JSON value `text` holds.
fn fn_parse<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let text = arg(args, 0);
    if text.is_undefined() {
        return Ok(text);
    }
    if !text.is_string() {
        return bad_arg(&ctx, 1);
    }
    match serde_json::from_str::<Value>(&text.as_str()) {
        Ok(value) => Ok(from_json(ctx.arena, &value)),
        Err(error) => Err(JError::D3137Error(format!(
            "$parse: the argument is not JSON text ({error})"
        ))),
    }
}

/// `$random()` in [0, 1) from the evaluation's draws; `$random(seed)` the same for the same seed.
fn fn_random<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    let bits = match arg(args, 0) {
        JValue::Undefined => next_draw(),
        JValue::Number(seed) if seed.fract() == 0.0 => splitmix64(*seed as i64 as u64),
        JValue::Number(seed) => splitmix64(seed.to_bits()),
        _ => return bad_arg(&ctx, 1),
    };
    // The top 53 bits, as a fraction: every value in [0, 1) a double can hold evenly spaced.
    Ok(JValue::number(
        ctx.arena,
        (bits >> 11) as f64 / (1u64 << 53) as f64,
    ))
}

/// `$uuid()`: a version-4-shaped UUID from the evaluation's draws.
fn fn_uuid<'a>(ctx: FunctionContext<'a, '_>, args: &[&'a JValue<'a>]) -> JResult<'a> {
    if !args.is_empty() {
        return bad_arg(&ctx, 1);
    }
    Ok(JValue::string(ctx.arena, &pseudo_uuid(next_draw())))
}
