// Drafts of the report form for slow and dropping connections (progressive enhancement: without JavaScript
// the form posts as usual).
//
// * What the citizen types is kept in this browser (localStorage, per form) as they type, and put back when
//   they come back to an empty form, with a message saying so.
// * On "send", the script first checks that this node answers (GET /healthz). When it does not, the report is
//   not lost: the page says it is kept and will be sent when the connection is back, and it is sent by itself
//   (the 'online' event, and a retry every 10 s) while the page stays open, photos included. Photos cannot be
//   kept across a reload; the message says so.
// * The draft is removed once the confirmation page (with the tracking code) is shown.
// Passwords, the CSRF token, files and the reporter's name, phone and e-mail (a phone may be shared) are never
// stored; the live form keeps them while the page is open.
(function () {
  'use strict';
  var PREFIX = 'lapor-draft:';
  var store;
  try { store = window.localStorage; store.getItem('x'); } catch (e) { return; }
  if (document.getElementById('tracking-code')) {
    for (var i = store.length - 1; i >= 0; i--) {
      var k = store.key(i);
      if (k && k.indexOf(PREFIX) === 0) { store.removeItem(k); }
    }
    return;
  }
  var form = document.querySelector('form[data-draft]');
  if (!form) { return; }
  var key = PREFIX + form.getAttribute('data-draft');
  var status = document.getElementById('draft-status');
  function say(attr) {
    if (!status) { return; }
    status.textContent = status.getAttribute(attr) || '';
    status.hidden = !status.textContent;
  }
  function kept(el) {
    return el.name && el.name !== 'csrf' && el.name.indexOf('reporter.') !== 0 && el.type !== 'password' && el.type !== 'file' &&
      el.type !== 'hidden' && el.type !== 'submit' && el.type !== 'button';
  }
  function save(pending) {
    var data = { fields: {}, pending: !!pending, at: Date.now() };
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!kept(el)) { return; }
      if (el.type === 'checkbox' || el.type === 'radio') {
        if (el.checked) { data.fields[el.name] = el.value; }
      } else if (el.value) {
        data.fields[el.name] = el.value;
      }
    });
    try { store.setItem(key, JSON.stringify(data)); } catch (e) { /* full or refused: the form still works */ }
    return data;
  }
  function load() {
    try { return JSON.parse(store.getItem(key) || 'null'); } catch (e) { return null; }
  }
  // Put a draft back only into a form that is empty (not one the server sent back with the citizen's values).
  var draft = load();
  var empty = Array.prototype.every.call(form.querySelectorAll('input[type=text],textarea'), function (el) {
    return !el.value;
  });
  if (draft && draft.fields && empty) {
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!kept(el) || !(el.name in draft.fields)) { return; }
      if (el.type === 'checkbox' || el.type === 'radio') {
        el.checked = draft.fields[el.name] === el.value;
      } else {
        el.value = draft.fields[el.name];
      }
    });
    say(draft.pending ? 'data-unsent' : 'data-restored');
  }
  var timer = null;
  form.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () { save(false); }, 300);
  });
  form.addEventListener('change', function () { save(false); });

  var waiting = false;
  var probing = false;
  var retry = null;
  function reachable() {
    var ctl = window.AbortController ? new AbortController() : null;
    var t = setTimeout(function () { if (ctl) { ctl.abort(); } }, 8000);
    return fetch('/healthz', { cache: 'no-store', signal: ctl ? ctl.signal : undefined })
      .then(function (r) { clearTimeout(t); return r.ok; }, function () { clearTimeout(t); return false; });
  }
  function send() {
    if (probing) { return; }
    probing = true;
    reachable().then(function (ok) {
      probing = false;
      if (!ok) {
        save(true);
        say('data-offline');
        if (!retry) { retry = setInterval(function () { if (waiting) { send(); } }, 10000); }
        return;
      }
      waiting = false;
      if (retry) { clearInterval(retry); retry = null; }
      save(false);
      say('data-sending');
      form.submit();
    });
  }
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    waiting = true;
    send();
  });
  window.addEventListener('online', function () { if (waiting) { send(); } });
})();
