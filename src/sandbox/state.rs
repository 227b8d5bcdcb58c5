//! One Lua sandbox: the state, the entry points its script defines (§7.2), and the
//! limits, counters and bookkeeping around each call.

use super::api::stack_bytes;
use super::config::{Kind, SandboxSettings};
use super::limits::Instructions;
use super::{env, inject, message, payload, preserve};
use crate::message::view::HeaderIndex;
use crate::message::MessageView;
use crate::pipeline::inject::Rejected;
use crate::pipeline::shutdown::Control;
use crate::pipeline::stats::PluginStats;
use mlua::{ffi, Lua, RegistryKey, Value};
use std::cell::{Cell, RefCell};
use std::os::raw::c_int;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// The message a call is processing, as raw parts: the API functions are called by Lua,
/// with no lifetime to borrow through. Set for exactly the duration of one call by
/// [`Sandbox::process_message`] from a borrow that outlives the call (or pointing into
/// the sandbox's own edited copy, see `write.rs`).
#[derive(Clone, Copy)]
struct Current {
    bytes: *const u8,
    len: usize,
    index: HeaderIndex,
}

/// Checks a message a filter is about to inject (Heka's loop and circular-reference
/// rules), with the loop count it would carry.
pub type InjectCheck = Box<dyn Fn(&MessageView<'_>, u8) -> Result<(), Rejected>>;

/// Delivers an injected message at once (SandboxInput, whose script may loop forever
/// injecting): the encoded bytes and their header index.
pub type InjectSink = Box<dyn FnMut(&[u8], HeaderIndex) -> Result<(), String>>;

/// Messages one call injected, kept in buffers reused from call to call.
#[derive(Default)]
pub struct Injected {
    messages: Vec<(Vec<u8>, HeaderIndex)>,
    len: usize,
}

impl Injected {
    /// A cleared buffer for the next message.
    pub(super) fn next_buffer(&mut self) -> Vec<u8> {
        let mut buf = match self.messages.get_mut(self.len) {
            Some((buf, _)) => std::mem::take(buf),
            None => Vec::new(),
        };
        buf.clear();
        buf
    }

    /// Keeps `buf` (from [`Injected::next_buffer`]) as the next injected message.
    pub(super) fn push(&mut self, buf: Vec<u8>, index: HeaderIndex) {
        match self.messages.get_mut(self.len) {
            Some(slot) => *slot = (buf, index),
            None => self.messages.push((buf, index)),
        }
        self.len += 1;
    }

    /// Gives a buffer back unused.
    pub(super) fn give_back(&mut self, buf: Vec<u8>) {
        if let Some((slot, _)) = self.messages.get_mut(self.len) {
            *slot = buf;
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Message `i`: its bytes (to swap into a pack) and header index.
    pub fn get_mut(&mut self, i: usize) -> Option<(&mut Vec<u8>, HeaderIndex)> {
        self.messages[..self.len]
            .get_mut(i)
            .map(|(buf, index)| (buf, *index))
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }
}

/// What the API functions share with the plugin running the sandbox.
pub(crate) struct Shared {
    pub settings: Arc<SandboxSettings>,
    pub instructions: Rc<Instructions>,
    current: Cell<Option<Current>>,
    /// `write_message`'s editable copy of the current message (decoders, encoders).
    pub edited: RefCell<Option<super::write::Edited>>,
    /// `read_next_field`'s position in the current message.
    pub next_field: Cell<usize>,
    /// `add_to_payload`'s buffer, emitted by `inject_payload`.
    pub payload: RefCell<Vec<u8>>,
    /// Messages injected by the current call (not for inputs, which deliver at once).
    pub injected: RefCell<Injected>,
    /// `inject_message`'s scratch space for field values.
    pub fields: RefCell<super::inject::FieldScratch>,
    /// Injections the current call may still make.
    pub inject_budget: Cell<u32>,
    /// The loop count injected messages carry: one more than the current message's.
    pub loops: Cell<u8>,
    /// The largest output one call made (the report's MaxOutput).
    pub max_output: Cell<usize>,
    pub check: RefCell<Option<InjectCheck>>,
    pub sink: RefCell<Option<InjectSink>>,
}

impl Shared {
    fn new(settings: Arc<SandboxSettings>) -> Shared {
        Shared {
            instructions: Rc::new(Instructions::new(settings.instruction_limit)),
            settings,
            current: Cell::new(None),
            edited: RefCell::new(None),
            next_field: Cell::new(0),
            payload: RefCell::new(Vec::new()),
            injected: RefCell::new(Injected::default()),
            fields: RefCell::new(Default::default()),
            inject_budget: Cell::new(0),
            loops: Cell::new(1),
            max_output: Cell::new(0),
            check: RefCell::new(None),
            sink: RefCell::new(None),
        }
    }

    /// Runs `f` on the message of the current call, if there is one.
    pub fn with_message<R>(&self, f: impl FnOnce(&MessageView<'_>) -> R) -> Option<R> {
        let current = self.current.get()?;
        // SAFETY: `current` is only set while the bytes it points to are alive and not
        // written: by `Sandbox::call` for the duration of one call, from a borrow that
        // outlives it, or by `write.rs` to the edited copy, which is replaced (and
        // `current` updated) only by `write_message`, never while a view is out.
        let bytes = unsafe { std::slice::from_raw_parts(current.bytes, current.len) };
        Some(f(&MessageView::with_index(bytes, &current.index)))
    }

    /// Makes `bytes` (indexed by `index`) the current message; `None` clears it.
    pub(super) fn set_current(&self, message: Option<(&[u8], HeaderIndex)>) {
        self.current.set(message.map(|(bytes, index)| Current {
            bytes: bytes.as_ptr(),
            len: bytes.len(),
            index,
        }));
    }

    /// Records an output of `len` bytes for MaxOutput.
    pub fn note_output(&self, len: usize) {
        self.max_output.set(self.max_output.get().max(len));
    }
}

/// What `process_message` returned (§7.2).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// 0 success, < 0 failure (-2: an encoder's "nothing to emit"), > 0 fatal.
    pub status: i64,
    /// The optional error text returned with the status.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    ProcessMessage,
    TimerEvent,
}

impl Entry {
    fn name(self) -> &'static str {
        match self {
            Entry::ProcessMessage => "process_message",
            Entry::TimerEvent => "timer_event",
        }
    }
}

/// A running sandbox. Not `Send`: made and used on the executor thread that runs its
/// plugin.
pub struct Sandbox {
    // Dropped first: the state closes before anything its functions point to.
    lua: Lua,
    process_message: Option<RegistryKey>,
    timer_event: Option<RegistryKey>,
    /// The state's main thread, for calls made without mlua (see `call`).
    raw: *mut ffi::lua_State,
    shared: Rc<Shared>,
    /// Why the sandbox stopped for good; every later call fails with it.
    terminated: Option<String>,
    stats: Option<Arc<PluginStats>>,
    calls: u64,
    timer_calls: u64,
}

impl Sandbox {
    /// Creates the state, loads the script and, with `preserve_data`, restores the
    /// globals saved at the last clean stop. `stop` ends a script that runs forever
    /// (SandboxInput) once hekad shuts down. Errors name the script and the line.
    pub fn new(
        settings: Arc<SandboxSettings>,
        stats: Option<Arc<PluginStats>>,
        stop: Option<Control>,
    ) -> Result<Sandbox, String> {
        let mut sandbox = Sandbox::load(settings.clone(), stats.clone(), stop.clone())?;
        if let Some(path) = &settings.preservation {
            match preserve::restore(&sandbox.lua, &sandbox.shared, path) {
                Ok(()) => {}
                Err(e) => {
                    log::error!(
                        "Plugin '{}': {}: {e}; starting without the saved state",
                        settings.name,
                        path.display()
                    );
                    sandbox = Sandbox::load(settings, stats, stop)?;
                }
            }
        }
        Ok(sandbox)
    }

    /// Loads the script once to report its errors at start-up, then drops it.
    pub fn check(settings: &SandboxSettings) -> Result<(), String> {
        Sandbox::load(Arc::new(settings.clone()), None, None).map(drop)
    }

    fn load(
        settings: Arc<SandboxSettings>,
        stats: Option<Arc<PluginStats>>,
        stop: Option<Control>,
    ) -> Result<Sandbox, String> {
        let shared = Rc::new(Shared::new(settings.clone()));
        let fail = |e: mlua::Error| {
            format!(
                "{} failed to load: {}",
                settings.script_name,
                error_text(&e)
            )
        };
        let lua = env::new_state(&settings, &shared.instructions, stop).map_err(fail)?;
        lua.set_app_data(shared.clone());
        install_api(&lua, &shared).map_err(fail)?;
        let source = settings.script.source()?;
        shared.instructions.start_call();
        let loaded = lua
            .load(source)
            .set_name(format!("@{}", settings.script_name))
            .exec();
        shared.instructions.finish_call();
        loaded.map_err(fail)?;
        let globals = lua.globals();
        let function = |name: &str| -> Result<Option<RegistryKey>, String> {
            match globals.raw_get::<Value>(name) {
                Ok(Value::Function(f)) => lua.create_registry_value(f).map(Some).map_err(fail),
                _ => Ok(None),
            }
        };
        let process_message = function("process_message")?;
        if process_message.is_none() {
            return Err(format!(
                "{}: process_message() function was not found",
                settings.script_name
            ));
        }
        let timer_event = function("timer_event")?;
        // SAFETY: only reads the pointer of the main thread the callback runs on.
        let mut raw = std::ptr::null_mut();
        unsafe { lua.exec_raw::<()>((), |l| raw = l) }.map_err(fail)?;
        if let Some(stats) = &stats {
            stats.sandbox.active.store(true, Ordering::Relaxed);
            stats
                .sandbox
                .memory_used(super::limits::memory_in_use(&lua) as u64);
        }
        Ok(Sandbox {
            lua,
            process_message,
            timer_event,
            raw,
            shared,
            terminated: None,
            stats,
            calls: 0,
            timer_calls: 0,
        })
    }

    pub fn settings(&self) -> &SandboxSettings {
        &self.shared.settings
    }

    /// Why the sandbox was terminated, if it was.
    pub fn terminated(&self) -> Option<&str> {
        self.terminated.as_deref()
    }

    /// Ends the sandbox for good (a status above 0 where that is fatal).
    pub fn terminate(&mut self, reason: String) {
        if self.terminated.is_none() {
            self.terminated = Some(reason);
        }
    }

    /// Checks every message the script injects (filters).
    pub fn set_inject_check(&self, check: InjectCheck) {
        *self.shared.check.borrow_mut() = Some(check);
    }

    /// Delivers every injected message at once instead of keeping it (SandboxInput).
    pub fn set_inject_sink(&self, sink: InjectSink) {
        *self.shared.sink.borrow_mut() = Some(sink);
    }

    /// Calls `process_message()` on `msg` (`None` for inputs); injected messages wait in
    /// [`Sandbox::injected`]. `loops` is the message's loop count (filters).
    /// `Err` when the sandbox is (now) terminated, with the reason.
    pub fn process_message(
        &mut self,
        msg: Option<MessageView<'_>>,
        loops: u8,
    ) -> Result<Outcome, String> {
        let budget = match self.shared.settings.kind {
            Kind::Filter => self.shared.settings.max_process_inject,
            Kind::Decoder => self.shared.settings.max_decoder_inject,
            Kind::Input | Kind::Encoder | Kind::Output => u32::MAX,
        };
        self.calls += 1;
        let started = sampled(self.calls, &self.shared.settings).then(Instant::now);
        let result = self.call(
            Entry::ProcessMessage,
            msg,
            loops,
            budget,
            None,
            started.is_some(),
        );
        if let (Some(started), Some(stats)) = (started, &self.stats) {
            PluginStats::add(&stats.sandbox.process_samples, 1);
            PluginStats::add(
                &stats.sandbox.process_total_ns,
                started.elapsed().as_nanos() as u64,
            );
        }
        let Returned { status, error } = result?;
        let Some(status) = status else {
            return Err(self.fail(
                Entry::ProcessMessage,
                "must return a numeric status code".into(),
            ));
        };
        let Ok(error) = error else {
            return Err(self.fail(
                Entry::ProcessMessage,
                "must return a nil or string error message".into(),
            ));
        };
        let status = status as i64;
        Ok(Outcome { status, error })
    }

    /// Calls `timer_event(ns)`; injected messages wait in [`Sandbox::injected`].
    pub fn timer_event(&mut self, ns: i64) -> Result<(), String> {
        self.timer_calls += 1;
        let started = sampled(self.timer_calls, &self.shared.settings).then(Instant::now);
        let budget = match self.shared.settings.kind {
            Kind::Filter => self.shared.settings.max_timer_inject,
            _ => u32::MAX,
        };
        let result = self.call(Entry::TimerEvent, None, 0, budget, Some(ns as f64), true);
        if let (Some(started), Some(stats)) = (started, &self.stats) {
            PluginStats::add(&stats.sandbox.timer_samples, 1);
            PluginStats::add(
                &stats.sandbox.timer_total_ns,
                started.elapsed().as_nanos() as u64,
            );
        }
        result.map(drop)
    }

    /// The messages the last call injected (their buffers are reused by the next call);
    /// for an encoder, its output (the last `inject_payload` or `inject_message`).
    pub fn injected(&self) -> std::cell::RefMut<'_, Injected> {
        self.shared.injected.borrow_mut()
    }

    /// The edited copy of the last message, if `write_message` changed it.
    pub fn edited_message(&self) -> Option<(Vec<u8>, HeaderIndex)> {
        self.shared
            .edited
            .borrow_mut()
            .take()
            .map(|edited| edited.into_parts())
    }

    /// One call of `entry`; `publish` updates the report's figures afterwards (sampled
    /// calls: they are atomics other threads read, not worth updating per message).
    fn call(
        &mut self,
        entry: Entry,
        msg: Option<MessageView<'_>>,
        loops: u8,
        inject_budget: u32,
        arg: Option<f64>,
        publish: bool,
    ) -> Result<Returned, String> {
        if let Some(reason) = &self.terminated {
            return Err(reason.clone());
        }
        let function = match entry {
            Entry::ProcessMessage => self.process_message.as_ref(),
            Entry::TimerEvent => self.timer_event.as_ref(),
        };
        let Some(function) = function.map(RegistryKey::id) else {
            return Err(self.fail(entry, "function was not found".into()));
        };
        let shared = &self.shared;
        shared.set_current(msg.map(|m| (m.bytes(), m.index())));
        shared.next_field.set(0);
        shared.injected.borrow_mut().clear();
        shared.inject_budget.set(inject_budget);
        shared.loops.set(loops.saturating_add(1));
        *shared.edited.borrow_mut() = None;
        shared.instructions.start_call();
        // SAFETY: `raw` is this state's main thread; `call_raw` leaves its stack as it
        // found it.
        let result = unsafe { call_raw(self.raw, function, arg) };
        shared.instructions.finish_call();
        shared.set_current(None);
        let result = match result {
            Ok(returned) => Ok(returned),
            Err(Failed::Memory) => Err("memory_limit exceeded".to_owned()),
            Err(Failed::Text(text)) => Err(text),
            // An error value that is not a string: mlua's wrapped Rust error (a hook's, a
            // callback's), read back through mlua.
            Err(Failed::Value) => Err(self.lua.exec_raw_lua(|raw| {
                // SAFETY: the error value `call_raw` left on the top of the stack.
                match unsafe { raw.pop_value() } {
                    Value::Error(e) => error_text(&e),
                    other => format!("{other:?}"),
                }
            })),
        };
        if publish {
            self.publish_stats();
        }
        result.map_err(|text| self.fail(entry, text))
    }

    /// Updates the report's figures: memory now, and the maxima so far.
    pub fn publish_stats(&self) {
        if let Some(stats) = &self.stats {
            let s = &stats.sandbox;
            s.memory_used(super::limits::memory_in_use(&self.lua) as u64);
            s.max_instructions
                .fetch_max(self.shared.instructions.max(), Ordering::Relaxed);
            s.max_output
                .fetch_max(self.shared.max_output.get() as u64, Ordering::Relaxed);
        }
    }

    /// Terminates the sandbox with `<entry>() <text>` and returns that reason.
    fn fail(&mut self, entry: Entry, text: String) -> String {
        let reason = format!("{}() {text}", entry.name());
        self.terminate(reason.clone());
        self.publish_stats();
        reason
    }

    /// Saves the globals when `preserve_data` is on (at a clean stop); a terminated
    /// sandbox saves nothing.
    pub fn preserve(&self) {
        let settings = &self.shared.settings;
        let Some(path) = &settings.preservation else {
            return;
        };
        if self.terminated.is_some() {
            return;
        }
        match preserve::save(&self.lua, path) {
            Ok(()) => log::info!(
                "Plugin '{}': state saved to {}",
                settings.name,
                path.display()
            ),
            Err(e) => log::error!(
                "Plugin '{}': could not save its state to {}: {e}",
                settings.name,
                path.display()
            ),
        }
    }
}

/// What an entry point returned: its first two results, as far as they matter.
struct Returned {
    /// The status, when it is a number (or a numeric string, as Lua 5.1 allows).
    status: Option<f64>,
    /// The error message: nothing, a string (or a number, as text), or `Err` for any
    /// other value.
    error: Result<Option<String>, ()>,
}

/// How a raw call failed.
enum Failed {
    Memory,
    Text(String),
    /// The error value is not a string; it is left on the top of the stack.
    Value,
}

/// Calls the function in registry slot `function` with Lua's API: mlua's
/// `Function::call` cost about 300 instructions per call in guards, pushes and result
/// conversions, a tenth of a filter's per-message cost. Leaves the stack as it was,
/// except for a non-string error value (`Failed::Value`).
unsafe fn call_raw(
    l: *mut ffi::lua_State,
    function: c_int,
    arg: Option<f64>,
) -> Result<Returned, Failed> {
    let top = ffi::lua_gettop(l);
    if ffi::lua_checkstack(l, 3) == 0 {
        return Err(Failed::Text("Lua stack exhausted".into()));
    }
    ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, function as _);
    let nargs = match arg {
        Some(arg) => {
            ffi::lua_pushnumber(l, arg);
            1
        }
        None => 0,
    };
    let code = ffi::lua_pcall(l, nargs, 2, 0);
    if code != ffi::LUA_OK {
        return Err(match (code, ffi::lua_type(l, -1)) {
            (ffi::LUA_ERRMEM, _) => {
                ffi::lua_settop(l, top);
                Failed::Memory
            }
            (_, ffi::LUA_TSTRING) => {
                let text = String::from_utf8_lossy(stack_bytes(l, -1)).into_owned();
                ffi::lua_settop(l, top);
                // mlua's traceback handler is not involved: the text is the error's.
                Failed::Text(text)
            }
            _ => Failed::Value,
        });
    }
    let status = match ffi::lua_type(l, -2) {
        ffi::LUA_TNUMBER => Some(ffi::lua_tonumber(l, -2)),
        ffi::LUA_TSTRING => std::str::from_utf8(stack_bytes(l, -2))
            .ok()
            .and_then(|t| t.trim().parse().ok()),
        _ => None,
    };
    let error = match ffi::lua_type(l, -1) {
        ffi::LUA_TNIL => Ok(None),
        ffi::LUA_TSTRING => Ok(Some(
            String::from_utf8_lossy(stack_bytes(l, -1)).into_owned(),
        )),
        ffi::LUA_TNUMBER => {
            let mut text = Vec::new();
            super::number::format_g(ffi::lua_tonumber(l, -1), 14, &mut text);
            Ok(Some(String::from_utf8_lossy(&text).into_owned()))
        }
        _ => Err(()),
    };
    ffi::lua_settop(l, top);
    Ok(Returned { status, error })
}

/// Whether call number `n` (from 1) is timed for the report: the first, then one in
/// `sample_denominator`.
fn sampled(n: u64, settings: &SandboxSettings) -> bool {
    n == 1 || n.is_multiple_of(settings.sample_denominator)
}

impl Drop for Sandbox {
    /// The last figures reach the report (the state is still open here).
    fn drop(&mut self) {
        self.publish_stats();
    }
}

/// Every API function of §7.3 that `settings.kind` has.
fn install_api(lua: &Lua, shared: &Rc<Shared>) -> mlua::Result<()> {
    message::install(lua, shared)?;
    inject::install(lua, shared)?;
    payload::install(lua, shared)?;
    super::write::install(lua, shared)
}

/// The message of a Lua error as a sandbox reports it: the script's own text (which
/// carries `file:line:`), Heka's limit wording, never mlua's wrapping.
pub fn error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(text) | mlua::Error::SyntaxError { message: text, .. } => {
            // mlua appends a traceback to errors raised in a call; the first line says it.
            match text.find("\nstack traceback:") {
                Some(end) => text[..end].to_owned(),
                None => text.clone(),
            }
        }
        mlua::Error::MemoryError(_) => "memory_limit exceeded".to_owned(),
        mlua::Error::CallbackError { cause, .. } => error_text(cause),
        mlua::Error::WithContext { cause, .. } => error_text(cause),
        other => other.to_string(),
    }
}
