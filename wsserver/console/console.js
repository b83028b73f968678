// The circle console: talks JSON-RPC to this circle's /ws, signs in with the browser's wallet
// (EIP-1193 window.ethereum + Sign-In with Ethereum), runs scripts and keeps a history.
// No libraries: the wallet does the cryptography. Everything shown goes in via textContent.
"use strict";

(() => {
  const RPC = {
    EXECUTION_ERROR: -32000,
    AUTH_REQUIRED: -32001,
    NOT_AUTHORIZED: -32003,
    TIMEOUT: -32004,
    TOO_MANY_REQUESTS: -32005,
  };
  const WALLET_REJECTED = 4001; // EIP-1193: the user declined the request
  const RECONNECT_DELAYS = [1, 2, 4, 8, 15]; // seconds; the last one repeats
  const HISTORY_LIMIT = 100;
  const NO_WALLET =
    "No browser wallet found. Install a wallet such as MetaMask, then reload this page.";

  const byId = (id) => document.getElementById(id);
  const ui = {
    body: document.body,
    circleName: byId("circle-name"),
    circleKey: byId("circle-key"),
    connection: byId("connection"),
    authState: byId("auth-state"),
    identity: byId("identity"),
    myAddress: byId("my-address"),
    myPubkey: byId("my-pubkey"),
    signIn: byId("sign-in"),
    signOut: byId("sign-out"),
    script: byId("script"),
    run: byId("run"),
    runState: byId("run-state"),
    result: byId("result"),
    summary: byId("result-summary"),
    errorWhere: byId("error-where"),
    errorLocation: byId("error-location"),
    errorLine: byId("error-line"),
    output: byId("output"),
    history: byId("history"),
    historyEmpty: byId("history-empty"),
  };

  /** A JSON-RPC error answered by the server. */
  class RpcError extends Error {
    constructor(error) {
      super(error.message + (typeof error.data === "string" ? ": " + error.data : ""));
      this.code = error.code;
      this.data = error.data;
    }
  }

  /** The connection dropped before the answer came. */
  class ConnectionLost extends Error {}

  /** One WebSocket to the circle, reopened with back-off; `call` sends a request and awaits
   * its answer. */
  class Connection {
    constructor(url, { onOpen, onClose }) {
      this.url = url;
      this.onOpen = onOpen;
      this.onClose = onClose;
      this.nextId = 1;
      this.pending = new Map();
      this.attempt = 0;
      this.everOpened = false;
      this.restarting = false;
      this.socket = null;
    }

    /** Close and open again at once (a login lives as long as its connection). */
    restart() {
      if (!this.socket) return;
      this.restarting = true;
      this.socket.close(1000, "restart");
    }

    open() {
      const socket = new WebSocket(this.url);
      this.socket = socket;
      socket.onopen = () => {
        this.attempt = 0;
        this.everOpened = true;
        this.onOpen();
      };
      socket.onmessage = (event) => this.receive(event.data);
      socket.onclose = () => {
        this.socket = null;
        for (const { reject } of this.pending.values()) {
          reject(new ConnectionLost("the connection to the circle was lost"));
        }
        this.pending.clear();
        if (this.restarting) {
          this.restarting = false;
          this.open();
          return;
        }
        const delay = RECONNECT_DELAYS[Math.min(this.attempt, RECONNECT_DELAYS.length - 1)];
        this.attempt += 1;
        this.onClose(delay, this.everOpened);
        setTimeout(() => this.open(), delay * 1000);
      };
    }

    get isOpen() {
      return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
    }

    call(method, params) {
      if (!this.isOpen) {
        return Promise.reject(new ConnectionLost("not connected to the circle"));
      }
      const id = this.nextId++;
      return new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        this.socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
      });
    }

    receive(text) {
      let answers;
      try {
        answers = JSON.parse(text);
      } catch (err) {
        console.error("circle sent something that is not JSON", err);
        return;
      }
      for (const answer of Array.isArray(answers) ? answers : [answers]) {
        const waiting = this.pending.get(answer.id);
        if (!waiting) continue;
        this.pending.delete(answer.id);
        if (answer.error) waiting.reject(new RpcError(answer.error));
        else waiting.resolve(answer.result);
      }
    }
  }

  // ---- identity -------------------------------------------------------------------------------

  function setAuth(state, text) {
    ui.body.dataset.auth = state;
    ui.authState.textContent = text;
  }

  function showIdentity(me) {
    const signedIn = Boolean(me && me.authenticated);
    ui.identity.hidden = !signedIn;
    ui.signOut.hidden = !signedIn;
    ui.signIn.hidden = signedIn;
    ui.myAddress.textContent = signedIn ? me.address || "—" : "";
    ui.myPubkey.textContent = signedIn ? me.pubkey || "—" : "";
  }

  function describeIdentity(me) {
    showIdentity(me);
    if (me.circle_name) {
      ui.circleName.textContent = me.circle_name;
      document.title = me.circle_name + " · circle console";
    }
    ui.circleKey.textContent = me.circle || "…";
    const name = me.circle_name || "this circle";
    if (me.authenticated && me.may_play === false) {
      setAuth("not-member", `Signed in as ${me.address || me.pubkey}, but that is not a member ` +
        `of ${name}: it cannot run scripts here. ` +
        `Ask the circle's operator to add it to "members".`);
    } else if (me.authenticated) {
      setAuth("signed-in", `Signed in: you may run scripts on ${name}.`);
    } else if (me.may_play) {
      setAuth("signed-out",
        `Not signed in. ${name} lets anyone run scripts, as an anonymous caller.`);
    } else if (!window.ethereum) {
      setAuth("no-wallet", NO_WALLET);
    } else {
      setAuth("signed-out", "Not signed in. Sign in with your wallet to run scripts.");
    }
  }

  async function refreshIdentity() {
    describeIdentity(await connection.call("whoami", {}));
  }

  function utf8Hex(text) {
    const bytes = new TextEncoder().encode(text);
    return "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function signIn() {
    const wallet = window.ethereum;
    if (!wallet || typeof wallet.request !== "function") {
      setAuth("no-wallet", NO_WALLET);
      return;
    }
    ui.signIn.disabled = true;
    try {
      setAuth("signing", "Choose an account in your wallet…");
      const accounts = await wallet.request({ method: "eth_requestAccounts" });
      if (!accounts || !accounts.length) throw new Error("the wallet shared no account");
      const address = accounts[0];
      const challenge = await connection.call("fetch_nonce", { address });
      if (typeof challenge.message !== "string") {
        throw new Error("this circle's server does not offer Sign-In with Ethereum");
      }
      setAuth("signing", "Sign the message in your wallet…");
      const signature = await wallet.request({
        method: "personal_sign", params: [utf8Hex(challenge.message), address],
      });
      await connection.call("authenticate", { message: challenge.message, signature });
      await refreshIdentity();
    } catch (err) {
      showIdentity(null);
      setAuth("failed", signInProblem(err));
    } finally {
      ui.signIn.disabled = !connection.isOpen;
    }
  }

  function signInProblem(err) {
    if (err && err.code === WALLET_REJECTED) return "You declined the request in your wallet.";
    if (err instanceof ConnectionLost) return "Sign-in failed: " + err.message + ".";
    return "Sign-in failed: " + (err && err.message ? err.message : String(err));
  }

  function signOut() {
    // A login lives as long as its connection: a new connection is signed out.
    showIdentity(null);
    setAuth("signed-out", "Signed out.");
    connection.restart();
    setConnection("connecting", "Connecting…");
  }

  // ---- running scripts ------------------------------------------------------------------------

  const LOCATION = /\(line (\d+), position (\d+)\)/;

  /** What a failed play means to the user: status, one-line summary, details, error location. */
  function explain(err) {
    if (err instanceof ConnectionLost) {
      return { status: "error", summary: "Not connected: " + err.message +
        ". The script may or may not have run.", detail: "" };
    }
    if (!(err instanceof RpcError)) return { status: "error", summary: String(err), detail: "" };
    const data = err.data;
    const message = typeof data === "string" ? data : (data && data.error) || err.message;
    const printed =
      data && typeof data === "object" && typeof data.output === "string" ? data.output : "";
    switch (err.code) {
      case RPC.EXECUTION_ERROR: {
        const found = LOCATION.exec(message);
        return {
          status: "error",
          summary: "Script error" + (found ? ` at line ${found[1]}, position ${found[2]}` : ""),
          detail: (printed ? printed + "\n" : "") + message,
          where: found ? { line: Number(found[1]), position: Number(found[2]) } : null,
        };
      }
      case RPC.TIMEOUT:
        return { status: "timeout", summary: "Worker busy or stopped: no answer in time.",
          detail: message };
      case RPC.TOO_MANY_REQUESTS:
        return { status: "busy", summary: "Busy: too many requests running; try again.",
          detail: message };
      case RPC.AUTH_REQUIRED:
        return { status: "refused",
          summary: "Sign in first: this circle only runs scripts of its members.", detail: "" };
      case RPC.NOT_AUTHORIZED:
        return { status: "refused",
          summary: "Not a member: your identity may not run scripts on this circle.",
          detail: message };
      default:
        return { status: "error", summary: err.message, detail: "" };
    }
  }

  function showResult(entry) {
    ui.result.dataset.status = entry.status;
    ui.summary.textContent = entry.summary;
    ui.output.textContent = entry.detail;
    ui.errorWhere.hidden = !entry.where;
    if (entry.where) {
      const lines = entry.script.split("\n");
      const text = lines[entry.where.line - 1];
      ui.errorLocation.textContent =
        `Go to line ${entry.where.line}, position ${entry.where.position}`;
      ui.errorLine.textContent = text === undefined ? "" :
        `${entry.where.line} | ${text}\n${" ".repeat(String(entry.where.line).length)} | ` +
        " ".repeat(Math.max(entry.where.position - 1, 0)) + "^";
      ui.errorLocation.onclick = () => selectLocation(entry.where);
    }
  }

  function selectLocation({ line, position }) {
    const lines = ui.script.value.split("\n");
    let offset = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i++) offset += lines[i].length + 1;
    offset += Math.max(position - 1, 0);
    ui.script.focus();
    ui.script.setSelectionRange(offset, offset + 1);
  }

  const history = [];

  function remember(entry) {
    history.push(entry);
    if (history.length > HISTORY_LIMIT) history.shift();
    ui.historyEmpty.hidden = true;
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    const when = document.createElement("span");
    when.className = "when";
    when.textContent = `${entry.at.toLocaleTimeString()} · ${entry.seconds.toFixed(2)} s`;
    const status = document.createElement("span");
    status.className = "status " + entry.status;
    status.textContent = entry.status;
    const firstLine = document.createElement("code");
    firstLine.textContent = entry.script.trim().split("\n")[0] || "(empty script)";
    button.append(when, status, firstLine);
    button.addEventListener("click", () => {
      ui.script.value = entry.script;
      showResult(entry);
    });
    item.append(button);
    ui.history.prepend(item);
    while (ui.history.children.length > HISTORY_LIMIT) ui.history.lastChild.remove();
  }

  let running = false;

  async function run() {
    if (running || !connection.isOpen) return;
    const script = ui.script.value;
    running = true;
    updateControls();
    const started = performance.now();
    ui.result.dataset.status = "running";
    ui.summary.textContent = "Running…";
    ui.output.textContent = "";
    ui.errorWhere.hidden = true;
    const ticker = setInterval(() => {
      ui.runState.textContent = `running ${Math.round((performance.now() - started) / 1000)} s`;
    }, 1000);
    let entry;
    try {
      const result = await connection.call("play", { script });
      entry = { status: "ok", summary: "Done.", detail: result.output };
    } catch (err) {
      entry = explain(err);
    } finally {
      clearInterval(ticker);
      ui.runState.textContent = "";
      running = false;
      updateControls();
    }
    Object.assign(entry, { script, at: new Date(), seconds: (performance.now() - started) / 1000 });
    if (entry.status === "ok" && !entry.detail) entry.summary = "Done (no output).";
    showResult(entry);
    remember(entry);
  }

  function updateControls() {
    ui.run.disabled = running || !connection.isOpen;
    ui.signIn.disabled = !connection.isOpen || ui.body.dataset.auth === "signing";
  }

  // ---- wiring ---------------------------------------------------------------------------------

  function setConnection(state, text) {
    ui.body.dataset.connection = state;
    ui.connection.textContent = text;
    updateControls();
  }

  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const connection = new Connection(`${scheme}//${location.host}/ws`, {
    onOpen: () => {
      setConnection("connected", "Connected");
      refreshIdentity().catch((err) => {
        setAuth("failed", "Could not ask who you are: " + err.message);
      });
    },
    onClose: (delay, everOpened) => {
      const why = everOpened ? "Connection lost"
        : "Cannot reach this circle (stopped, or this address is not an allowed origin)";
      setConnection("reconnecting", `${why}; retrying in ${delay} s…`);
      showIdentity(null);
      if (ui.body.dataset.auth !== "no-wallet") {
        setAuth("signed-out", "Not connected. Sign in again once reconnected.");
      }
    },
  });

  ui.signIn.addEventListener("click", signIn);
  ui.signOut.addEventListener("click", signOut);
  ui.run.addEventListener("click", run);
  ui.script.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      run();
    }
  });
  if (window.ethereum && typeof window.ethereum.on === "function") {
    // Another account in the wallet is another person: drop the login made with the old one.
    window.ethereum.on("accountsChanged", () => {
      if (ui.body.dataset.auth === "signed-in" || ui.body.dataset.auth === "not-member") signOut();
    });
  }
  if (!window.ethereum) setAuth("no-wallet", NO_WALLET);
  connection.open();
})();
