//! The few JavaScript operations a host call needs, each done through a built-in function
//! (`Reflect.apply`, `Reflect.get`, `JSON.stringify`, `String`) so that whatever a host object
//! throws (from a method, a getter, `toString`) comes back as an `Err` with the exception cleared,
//! never as an exception left pending on the JavaScript thread. Everything here runs on that
//! thread.

use napi::bindgen_prelude::{Env, FnArgs, Function, JsObjectValue, JsValue, Object, ToNapiValue, Unknown, ValueType};

/// `Reflect.apply`'s signature: `(function, this, argumentsList)`.
type Apply<'env> = Function<'env, FnArgs<(Unknown<'env>, Unknown<'env>, Unknown<'env>)>, Unknown<'env>>;

/// `Reflect.get`'s signature: `(target, key)`.
type Get<'env> = Function<'env, FnArgs<(Unknown<'env>, Unknown<'env>)>, Unknown<'env>>;

/// The built-ins, looked up once per use.
pub(crate) struct Js<'env> {
    env: &'env Env,
    global: Unknown<'env>,
    apply: Apply<'env>,
    get: Get<'env>,
}

impl<'env> Js<'env> {
    pub(crate) fn new(env: &'env Env) -> napi::Result<Self> {
        let global = env.get_global()?;
        let reflect: Object = global.get_named_property_unchecked("Reflect")?;
        Ok(Self {
            env,
            global: global.to_unknown(),
            apply: reflect.get_named_property_unchecked("apply")?,
            get: reflect.get_named_property_unchecked("get")?,
        })
    }

    /// `function.apply(this, args)`.
    pub(crate) fn call(
        &self,
        function: Unknown<'env>,
        this: Unknown<'env>,
        args: Vec<Unknown<'env>>,
    ) -> napi::Result<Unknown<'env>> {
        let list = self.array(args)?;
        self.apply.call(FnArgs::from((function, this, list)))
    }

    /// `object[key]` (getters run; a non-object is a `TypeError`).
    pub(crate) fn get(&self, object: Unknown<'env>, key: &str) -> napi::Result<Unknown<'env>> {
        let key = self.string(key)?;
        self.get.call(FnArgs::from((object, key)))
    }

    /// `object[key]` for a symbol key (`Symbol.asyncIterator`).
    pub(crate) fn get_symbol(&self, object: Unknown<'env>, symbol: &str) -> napi::Result<Unknown<'env>> {
        let symbols = self.global("Symbol")?;
        let key = self.get(symbols, symbol)?;
        self.get.call(FnArgs::from((object, key)))
    }

    /// The global `name` (`Promise`, `JSON`).
    pub(crate) fn global(&self, name: &str) -> napi::Result<Unknown<'env>> {
        self.get(self.global, name)
    }

    /// `object[method](...args)`.
    pub(crate) fn call_method(
        &self,
        object: Unknown<'env>,
        method: &str,
        args: Vec<Unknown<'env>>,
    ) -> napi::Result<Unknown<'env>> {
        let function = self.get(object, method)?;
        self.call(function, object, args)
    }

    /// A Promise of `function.apply(this, args)`, called from a microtask: a throw and a rejection
    /// both reject it, and a value or a Promise it returns settles it. (`Promise.resolve(args)
    /// .then(Reflect.apply.bind(undefined, function, this))`, built from built-ins only.)
    pub(crate) fn call_later(
        &self,
        function: Unknown<'env>,
        this: Unknown<'env>,
        args: Vec<Unknown<'env>>,
    ) -> napi::Result<Unknown<'env>> {
        let apply = self.apply.to_unknown();
        let bind = self.get(self.global("Function")?, "prototype").and_then(|p| self.get(p, "bind"))?;
        let undefined = ().into_unknown(self.env)?;
        let bound = self.call(bind, apply, vec![undefined, function, this])?;
        let list = self.array(args)?;
        let resolved = self.call_method(self.global("Promise")?, "resolve", vec![list])?;
        self.call_method(resolved, "then", vec![bound])
    }

    /// `JSON.stringify(value)`: `None` when it has no JSON form (`undefined`, a function).
    pub(crate) fn stringify(&self, value: Unknown<'env>) -> napi::Result<Option<String>> {
        let json = self.call_method(self.global("JSON")?, "stringify", vec![value])?;
        text(json)
    }

    /// `String(value)`.
    pub(crate) fn to_text(&self, value: Unknown<'env>) -> napi::Result<String> {
        let undefined = ().into_unknown(self.env)?;
        let string = self.call(self.global("String")?, undefined, vec![value])?;
        Ok(text(string)?.unwrap_or_default())
    }

    /// A JavaScript string.
    pub(crate) fn string(&self, text: &str) -> napi::Result<Unknown<'env>> {
        Ok(self.env.create_string(text)?.to_unknown())
    }

    /// A JavaScript array of `items`.
    pub(crate) fn array(&self, items: Vec<Unknown<'env>>) -> napi::Result<Unknown<'env>> {
        let mut array = self.env.create_array(items.len() as u32)?;
        for (i, item) in items.into_iter().enumerate() {
            array.set(i as u32, item)?;
        }
        Ok(array.to_unknown())
    }

    /// A function calling `callback` with its first argument (`undefined` without one).
    pub(crate) fn function(
        &self,
        name: &str,
        callback: impl Fn(&Env, Unknown) + 'static,
    ) -> napi::Result<Unknown<'env>> {
        let function = self.env.create_function_from_closure::<Unknown, (), _>(name, move |ctx| {
            let argument = match ctx.length() {
                0 => ().into_unknown(ctx.env)?,
                _ => ctx.get::<Unknown>(0)?,
            };
            callback(ctx.env, argument);
            Ok(())
        })?;
        Ok(function.to_unknown())
    }

    /// `RegistryError: registry down [cloud.mjs:41 in Fleet.deploy, cloud.mjs:12 in push]`: what
    /// `String(reason)` says and the innermost frames of its `stack` (innermost first, as
    /// JavaScript prints them; Node's own frames left out).
    pub(crate) fn describe(&self, reason: Unknown<'env>) -> String {
        const FRAMES: usize = 3;
        let said = self.to_text(reason).unwrap_or_else(|_| "a value that cannot be shown".to_owned());
        let is_object = matches!(reason.get_type(), Ok(ValueType::Object | ValueType::Function));
        let stack = if is_object { self.get(reason, "stack").and_then(text).ok().flatten() } else { None };
        let frames: Vec<String> = stack.iter().flat_map(|s| s.lines()).filter_map(frame).take(FRAMES).collect();
        if frames.is_empty() { said } else { format!("{said} [{}]", frames.join(", ")) }
    }
}

/// The string `value` holds, `None` for another type.
pub(crate) fn text(value: Unknown) -> napi::Result<Option<String>> {
    if value.get_type()? != ValueType::String {
        return Ok(None);
    }
    value.coerce_to_string()?.into_utf8()?.into_owned().map(Some)
}

/// `cloud.mjs:41 in Fleet.deploy` for a stack line `    at Fleet.deploy (file:///srv/cloud.mjs:41:9)`;
/// `None` for a line that is not a frame, or a frame of Node's own code.
fn frame(line: &str) -> Option<String> {
    let frame = line.trim_start().strip_prefix("at ")?;
    let (function, location) = match frame.strip_suffix(')').and_then(|f| f.split_once(" (")) {
        Some((function, location)) => (Some(function), location),
        None => (None, frame),
    };
    if location.starts_with("node:") {
        return None;
    }
    // `path:line:column`: the file's name and the line.
    let mut parts = location.rsplitn(3, ':');
    let (_column, line_no, path) = (parts.next()?, parts.next()?, parts.next()?);
    line_no.parse::<u32>().ok()?;
    let file = path.rsplit('/').next().unwrap_or(path);
    Some(match function {
        Some(function) => format!("{file}:{line_no} in {function}"),
        None => format!("{file}:{line_no}"),
    })
}

#[cfg(test)]
mod tests {
    use super::frame;

    #[test]
    fn stack_lines_become_short_frames() {
        assert_eq!(
            frame("    at Fleet.deploy (file:///srv/app/cloud.mjs:41:9)").as_deref(),
            Some("cloud.mjs:41 in Fleet.deploy")
        );
        assert_eq!(
            frame("    at async Sim.deploy (/srv/app/sim.js:7:3)").as_deref(),
            Some("sim.js:7 in async Sim.deploy")
        );
        assert_eq!(frame("    at file:///srv/app/main.mjs:3:1").as_deref(), Some("main.mjs:3"));
        assert_eq!(frame("    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)"), None);
        assert_eq!(frame("    at async Promise.all (index 0)"), None);
        assert_eq!(frame("Error: registry down"), None);
    }
}
