// A minimal Socket.IO v4 client on a plain WebSocket (Engine.IO v4 framing), nothing loaded from
// outside. It behaves like the rugs.fun web client towards its backend: connects to "/", answers
// Engine.IO pings, sends an application `ping {lastPing}` with an ack id right after connecting and
// every ?ping=SECONDS, and with ?orders=1 sends a buyOrder and a sellOrder (trace-wrapped, with ack ids).
(() => {
  "use strict";
  const params = new URLSearchParams(location.search);
  const pingSeconds = Number(params.get("ping") || 30);
  const counts = { received: 0, sent: 0, acks: 0 };
  let nextAckId = 1;
  let pingTimer = null;

  const show = (id, value) => { document.getElementById(id).textContent = String(value); };
  const render = () => { for (const k of Object.keys(counts)) show(k, counts[k]); };

  const hex = (bytes) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0")).join("");
  const trace = () => ({ __trace: true, traceparent: `00-${hex(16)}-${hex(8)}-01` });

  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/socket.io/?EIO=4&transport=websocket`);

  // 4 = Engine.IO message, 2 = Socket.IO event, then the ack id, then the JSON argument array.
  function emit(name, ...args) {
    const id = nextAckId++;
    ws.send(`42${id}${JSON.stringify([name, ...args])}`);
    counts.sent++;
    render();
  }

  function onConnected() {
    show("state", "connected");
    const token = params.get("token");
    if (token !== null) emit("authenticate", { token });
    emit("ping", { lastPing: Date.now() });
    pingTimer = setInterval(() => emit("ping", { lastPing: Date.now() }), pingSeconds * 1000);
    if (params.get("orders") === "1") {
      emit("buyOrder", trace(), { amount: 0.002 });
      emit("sellOrder", trace(), { percentage: 50 });
    }
  }

  function onSocketIO(packet) {
    const type = packet[0];
    if (type === "0") {
      onConnected();
    } else if (type === "2") {
      counts.received++;
      const body = packet.slice(1).replace(/^\d+/, "");
      try { show("last", JSON.parse(body)[0]); } catch (e) { show("last", "(unreadable)"); }
    } else if (type === "3") {
      counts.acks++;
    } else if (type === "1" || type === "4") {
      show("state", "refused or disconnected by the server");
    }
    render();
  }

  ws.onmessage = (msg) => {
    if (typeof msg.data !== "string") return; // binary attachments: this feed sends none
    const kind = msg.data[0];
    if (kind === "0") ws.send("40"); // Engine.IO open: connect to the "/" namespace
    else if (kind === "2") ws.send("3"); // Engine.IO ping: pong
    else if (kind === "4") onSocketIO(msg.data.slice(1));
    else if (kind === "1") ws.close();
  };
  ws.onclose = () => {
    if (pingTimer !== null) clearInterval(pingTimer);
    show("state", "closed");
  };
})();
