// Security keys and passkeys (WebAuthn) for the account page, the
// second step of a sign-in and the step-up before a large approval. A
// static file, no inline script (CSP): the page marks a container with
// data-webauthn="register", "login" or "stepup"; its [data-webauthn-start]
// button runs the ceremony against the desk's JSON endpoints, which check
// everything (challenges, origin, signature). A step-up's answer is not
// posted here: it goes into the step-up form (named by
// data-webauthn-form), which posts the approval again with it.
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
  function assertion(cred) {
    var r = cred.response;
    return {
      id: cred.id, rawId: toB64(cred.rawId), type: cred.type,
      response: {
        clientDataJSON: toB64(r.clientDataJSON),
        authenticatorData: toB64(r.authenticatorData),
        signature: toB64(r.signature),
        userHandle: r.userHandle ? toB64(r.userHandle) : ""
      },
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    };
  }
  function ask(url) {
    return post(url).then(function (opts) {
      var pk = opts.publicKey;
      pk.challenge = toBytes(pk.challenge);
      pk.allowCredentials = descriptors(pk.allowCredentials);
      return navigator.credentials.get({ publicKey: pk });
    });
  }
  function stepUp(box) {
    var form = document.getElementById(box.getAttribute("data-webauthn-form"));
    return ask("/approvals/stepup/key/begin").then(function (cred) {
      form.querySelector("[data-webauthn-answer]").value = JSON.stringify(assertion(cred));
      form.submit();
      return null;
    });
  }
  function signIn() {
    return ask("/login/key/begin").then(function (cred) {
      return post("/login/key/finish", assertion(cred));
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
      var kind = box.getAttribute("data-webauthn");
      var run = kind === "register" ? register(box) : kind === "stepup" ? stepUp(box) : signIn();
      run.then(function (data) {
        if (data) window.location.assign(data.redirect || "/");
      }).catch(function (err) {
        btn.disabled = false;
        // The desk's own message when it gave one; otherwise the browser
        // or the key gave up (cancelled, timed out, not allowed).
        show((err && err.message && err.name === "Error") ? err.message : box.getAttribute("data-msg-failed"));
      });
    });
  });
})();
