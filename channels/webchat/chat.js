// The web chat: talks to Rasa's socket.io channel (channels/socketio.py) on the
// page's own origin. Everything shown is text (textContent), never HTML.
(function () {
  "use strict";
  var STORE = "assistant-session";
  var log = document.getElementById("log");
  var form = document.getElementById("send");
  var input = document.getElementById("message");
  var button = document.getElementById("submit");
  var session = null;

  function add(kind, text) {
    var item = document.createElement("li");
    item.className = kind;
    item.textContent = text;
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }

  function addAnswer(message) {
    var answer = message.answer;
    if (!answer || !answer.sources || !answer.sources.length) {
      add("bot", message.text || "");
      return;
    }
    // The answer as data: its text, then its sources as a list.
    var item = add("bot", answer.text);
    var list = document.createElement("ol");
    list.className = "sources";
    answer.sources.forEach(function (source) {
      var entry = document.createElement("li");
      entry.value = source.number;
      entry.textContent = source.title + " (" + source.source + ")";
      list.appendChild(entry);
    });
    item.appendChild(list);
  }

  var saved = null;
  try { saved = JSON.parse(localStorage.getItem(STORE) || "null"); } catch (e) { saved = null; }

  // Long-polling only: the websocket upgrade fails between Rasa 3.6's Sanic 21.12
  // and the python-engineio its pins bring (the upgrade probe errors in Sanic).
  var socket = io({ path: "/socket.io", transports: ["polling"] });
  socket.on("connect", function () {
    socket.emit("session_request", saved || {});
  });
  socket.on("session_confirm", function (confirmed) {
    session = confirmed;
    try { localStorage.setItem(STORE, JSON.stringify(confirmed)); } catch (e) { /* private mode */ }
    button.disabled = false;
    document.body.setAttribute("data-session", "ready");
  });
  socket.on("bot_uttered", function (message) {
    if (message && (message.text || message.answer)) { addAnswer(message); }
  });
  socket.on("error", function (problem) {
    add("notice", (problem && problem.error) || "Something went wrong; try again.");
  });
  socket.on("disconnect", function () { button.disabled = true; });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || !session) { return; }
    add("user", text);
    socket.emit("user_uttered", { message: text, session_id: session.session_id });
    input.value = "";
  });
})();
