// A page opened from disk (file://) cannot start a web worker, and the site's search runs
// in one. There, this runs the worker's script in a hidden frame of the page's own origin
// instead, with a worker's messaging on both sides: postMessage and "message" events.
// Over http(s) it does nothing. (It stands in for the shim Material's offline build
// would load from the network: the site must work with no network at all.)
(function () {
  "use strict";
  if (location.protocol !== "file:") {
    return;
  }

  class FrameWorker extends EventTarget {
    constructor(url) {
      super();
      this.onmessage = null;
      this._ready = false;
      this._waiting = [];
      this._frame = document.createElement("iframe");
      this._frame.style.display = "none";
      this._frame.srcdoc = "<!doctype html><title>worker</title>";
      const src = new URL(url, location.href).href;
      this._frame.addEventListener("load", () => this._start(src), { once: true });
      (document.body || document.documentElement).appendChild(this._frame);
    }

    _start(src) {
      const scope = this._frame.contentWindow;
      const worker = this;
      // What the worker's script posts reaches this side, later, as a worker's would.
      scope.postMessage = function (data) {
        setTimeout(() => worker._emit(data));
      };
      const script = scope.document.createElement("script");
      script.src = src;
      script.onload = () => {
        this._ready = true;
        for (const data of this._waiting.splice(0)) {
          this._deliver(data);
        }
      };
      scope.document.head.appendChild(script);
    }

    _emit(data) {
      const event = new MessageEvent("message", { data: data });
      this.dispatchEvent(event);
      if (typeof this.onmessage === "function") {
        this.onmessage(event);
      }
    }

    _deliver(data) {
      const scope = this._frame.contentWindow;
      scope.dispatchEvent(new scope.MessageEvent("message", { data: data }));
    }

    postMessage(data) {
      if (this._ready) {
        setTimeout(() => this._deliver(data));
      } else {
        this._waiting.push(data);
      }
    }

    terminate() {
      this._frame.remove();
    }
  }

  window.Worker = FrameWorker;
})();
