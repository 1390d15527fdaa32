//! The browser's passkey prompts: `navigator.credentials.create()` and `.get()` with the
//! api's WebAuthn JSON options, answered as WebAuthn JSON (`PublicKeyCredential`'s
//! `parseCreationOptionsFromJSON`, `parseRequestOptionsFromJSON` and `toJSON`).

use js_sys::{Function, JSON, Object, Promise, Reflect};
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Why there is no credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasskeyError {
    /// This browser has no passkeys (no `PublicKeyCredential` or its JSON methods).
    Unsupported,
    /// The prompt was cancelled, timed out, or the authenticator refused.
    Failed(String),
}

/// Options with their `null` members left out: WebAuthn's dictionaries take a missing
/// member, not a null one.
fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

fn get(target: &JsValue, name: &str) -> Result<JsValue, PasskeyError> {
    Reflect::get(target, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
        .ok_or(PasskeyError::Unsupported)
}

fn failed(e: JsValue) -> PasskeyError {
    let name = Reflect::get(&e, &"name".into())
        .ok()
        .and_then(|v| v.as_string());
    let message = Reflect::get(&e, &"message".into())
        .ok()
        .and_then(|v| v.as_string());
    PasskeyError::Failed(match (name, message) {
        (Some(n), Some(m)) => format!("{n}: {m}"),
        (Some(n), None) => n,
        _ => "the passkey prompt failed".into(),
    })
}

async fn ceremony(method: &str, parser: &str, options: &Value) -> Result<Value, PasskeyError> {
    let window: JsValue = web_sys::window().ok_or(PasskeyError::Unsupported)?.into();
    let class = get(&window, "PublicKeyCredential")?;
    let parse: Function = get(&class, parser)?
        .dyn_into()
        .map_err(|_| PasskeyError::Unsupported)?;
    let json = JSON::parse(&without_nulls(options).to_string()).map_err(failed)?;
    let parsed = parse.call1(&class, &json).map_err(failed)?;
    let arg = Object::new();
    Reflect::set(&arg, &"publicKey".into(), &parsed).map_err(failed)?;
    let container = get(&get(&window, "navigator")?, "credentials")?;
    let call: Function = get(&container, method)?
        .dyn_into()
        .map_err(|_| PasskeyError::Unsupported)?;
    let promise: Promise = call
        .call1(&container, &arg)
        .map_err(failed)?
        .dyn_into()
        .map_err(|_| PasskeyError::Unsupported)?;
    let credential = JsFuture::from(promise).await.map_err(failed)?;
    let to_json: Function = get(&credential, "toJSON")?
        .dyn_into()
        .map_err(|_| PasskeyError::Unsupported)?;
    let out = to_json.call0(&credential).map_err(failed)?;
    let text: String = JSON::stringify(&out).map_err(failed)?.into();
    serde_json::from_str(&text).map_err(|e| PasskeyError::Failed(e.to_string()))
}

/// `navigator.credentials.create({publicKey})`: a new passkey.
pub async fn create(public_key: &Value) -> Result<Value, PasskeyError> {
    ceremony("create", "parseCreationOptionsFromJSON", public_key).await
}

/// `navigator.credentials.get({publicKey})`: the passkey's signature of the challenge.
pub async fn sign(public_key: &Value) -> Result<Value, PasskeyError> {
    ceremony("get", "parseRequestOptionsFromJSON", public_key).await
}
