// Security keys and passkeys (WebAuthn) for the account page and the
// second step of a sign-in. A static file, no inline script (CSP): the
// page marks a container with data-webauthn="register" or "login"; its
// [data-webauthn-start] button runs the ceremony against the desk's JSON
// endpoints, which check everything (challenges, origin, signature).
(function () {
  "use strict";
  function toBytes(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function toB64(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: body === undefined ? "{}" : JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) throw new Error(data.error || "");
        return data;
      });
    });
  }
  function descriptors(list) {
    return (list || []).map(function (c) {
      var d = { type: c.type, id: toBytes(c.id) };
      if (c.transports) d.transports = c.transports;
      return d;
    });
  }
  function register(box) {
    var nameInput = box.querySelector("[data-webauthn-name]");
    return post("/account/2fa/key/begin").then(function (opts) {
      var pk = opts.publicKey;
      pk.challenge = toBytes(pk.challenge);
      pk.user.id = toBytes(pk.user.id);
      pk.excludeCredentials = descriptors(pk.excludeCredentials);
      return navigator.credentials.create({ publicKey: pk });
    }).then(function (cred) {
      var r = cred.response;
      return post("/account/2fa/key/finish", {
        name: nameInput ? nameInput.value : "",
        credential: {
          id: cred.id, rawId: toB64(cred.rawId), type: cred.type,
          response: {
            clientDataJSON: toB64(r.clientDataJSON),
            attestationObject: toB64(r.attestationObject),
            transports: r.getTransports ? r.getTransports() : []
          },
          clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
        }
      });
    });
  }
  function signIn() {
    return post("/login/key/begin").then(function (opts) {
      var pk = opts.publicKey;
      pk.challenge = toBytes(pk.challenge);
      pk.allowCredentials = descriptors(pk.allowCredentials);
      return navigator.credentials.get({ publicKey: pk });
    }).then(function (cred) {
      var r = cred.response;
      return post("/login/key/finish", {
        id: cred.id, rawId: toB64(cred.rawId), type: cred.type,
        response: {
          clientDataJSON: toB64(r.clientDataJSON),
          authenticatorData: toB64(r.authenticatorData),
          signature: toB64(r.signature),
          userHandle: r.userHandle ? toB64(r.userHandle) : ""
        },
        clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
      });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-webauthn]"), function (box) {
    var btn = box.querySelector("[data-webauthn-start]");
    var errBox = box.querySelector("[data-webauthn-error]");
    if (!btn) return;
    function show(msg) {
      if (!errBox) return;
      errBox.textContent = msg;
      errBox.hidden = false;
    }
    if (!window.PublicKeyCredential || !navigator.credentials) {
      btn.disabled = true;
      show(box.getAttribute("data-msg-unsupported"));
      return;
    }
    btn.addEventListener("click", function () {
      btn.disabled = true;
      if (errBox) errBox.hidden = true;
      var run = box.getAttribute("data-webauthn") === "register" ? register(box) : signIn();
      run.then(function (data) {
        window.location.assign(data.redirect || "/");
      }).catch(function (err) {
        btn.disabled = false;
        // The desk's own message when it gave one; otherwise the browser
        // or the key gave up (cancelled, timed out, not allowed).
        show((err && err.message && err.name === "Error") ? err.message : box.getAttribute("data-msg-failed"));
      });
    });
  });
})();
