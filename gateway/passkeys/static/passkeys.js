// The browser half of GovConnect's passkey ceremonies (W3C Web Authentication Level 3).
//
// Progressive enhancement: every passkey form is an ordinary POST form, hidden (inside
// [data-passkey-ceremony]) until this script finds a browser that can use passkeys; the
// [data-passkey-fallback] text says what to do without one. On submit the script asks the
// form's data-options URL for fresh options (the form's own fields, CSRF token included),
// runs navigator.credentials.create() or .get() (data-passkey="create" or "get"), puts the
// credential's JSON form (§5.1 toJSON) in the hidden "credential" field and submits the
// form, so the server answers with an ordinary page or redirect. Served from this origin,
// so the pages' Content-Security-Policy (script-src 'self') allows it.

const supported =
  typeof window.PublicKeyCredential === "function" && navigator.credentials !== undefined;

const toBytes = (text) => {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
};

const toText = (buffer) =>
  btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

const withBytes = (descriptors) =>
  (descriptors || []).map((d) => ({ ...d, id: toBytes(d.id) }));

// §5.1.9 parseCreationOptionsFromJSON / parseRequestOptionsFromJSON, by hand where missing.
const creationOptions = (json) =>
  PublicKeyCredential.parseCreationOptionsFromJSON
    ? PublicKeyCredential.parseCreationOptionsFromJSON(json)
    : {
        ...json,
        challenge: toBytes(json.challenge),
        user: { ...json.user, id: toBytes(json.user.id) },
        excludeCredentials: withBytes(json.excludeCredentials),
      };

const requestOptions = (json) =>
  PublicKeyCredential.parseRequestOptionsFromJSON
    ? PublicKeyCredential.parseRequestOptionsFromJSON(json)
    : {
        ...json,
        challenge: toBytes(json.challenge),
        allowCredentials: withBytes(json.allowCredentials),
      };

// §5.1.8 toJSON, by hand where missing.
const credentialJSON = (credential) => {
  if (typeof credential.toJSON === "function") {
    return credential.toJSON();
  }
  const r = credential.response;
  const response = { clientDataJSON: toText(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toText(r.attestationObject);
    response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    response.authenticatorData = toText(r.authenticatorData);
    response.signature = toText(r.signature);
    if (r.userHandle) {
      response.userHandle = toText(r.userHandle);
    }
  }
  return {
    id: credential.id,
    rawId: toText(credential.rawId),
    type: credential.type,
    response,
    authenticatorAttachment: credential.authenticatorAttachment,
    clientExtensionResults: credential.getClientExtensionResults(),
  };
};

const showError = (form, text) => {
  const error = form.querySelector("[data-passkey-error]");
  error.textContent = text;
  error.setAttribute("role", "alert");
  error.hidden = false;
};

const ceremony = async (form) => {
  const answer = await fetch(form.dataset.options, {
    method: "POST",
    body: new FormData(form),
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  const options = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    throw Object.assign(new Error("options refused"), { detail: options.detail });
  }
  return form.dataset.passkey === "create"
    ? navigator.credentials.create({ publicKey: creationOptions(options) })
    : navigator.credentials.get({ publicKey: requestOptions(options) });
};

const enhance = (form) => {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const credential = await ceremony(form);
      form.elements.credential.value = JSON.stringify(credentialJSON(credential));
      form.submit();
    } catch (problem) {
      const cancelled = problem.name === "NotAllowedError" || problem.name === "AbortError";
      showError(form, problem.detail || (cancelled ? form.dataset.cancelled : form.dataset.failed));
      button.disabled = false;
    }
  });
};

if (supported) {
  document.querySelectorAll("[data-passkey-fallback]").forEach((el) => {
    el.hidden = true;
  });
  document.querySelectorAll("[data-passkey-ceremony]").forEach((el) => {
    el.hidden = false;
  });
  document.querySelectorAll("form[data-passkey]").forEach(enhance);
}
