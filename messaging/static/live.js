// Live updates of an open messaging page (server-sent events, WHATWG HTML §9.2).
//
// Progressive enhancement: the page works the same without this script. Where it runs, it
// opens the page's event stream (the [data-live-updates] element's data-stream URL, watching
// from data-after: where the reader's changes stood when the page was rendered) and, when
// something the page shows has changed, fills in and reveals the notification banner inside
// that element, with a link that reloads the page. The element is an aria-live region, so
// screen readers announce the banner; focus stays where it is and nothing on the page moves
// under the reader (WCAG 2.2 SC 3.2.5). The events name only a conversation and whether the
// change is news: the page itself is fetched again by the person's own click.
//
// The browser reconnects a stream that ends (after the retry time the server sends) with
// Last-Event-ID, so no change is missed; a 204 (the session has ended), 404 or 429 answer
// closes it for good. Served from this origin, so the pages' Content-Security-Policy
// (script-src 'self', connect-src from default-src 'self') allows it.

const region = document.querySelector("[data-live-updates]");

const show = (change) => {
  const banner = region.querySelector("[data-live-banner]");
  const text = region.querySelector("[data-live-text]");
  // News outranks an update: once told of a new message, the banner keeps saying so.
  if (change === "new" || banner.hidden) {
    text.textContent = change === "new" ? region.dataset.textNew : region.dataset.textUpdated;
  }
  banner.hidden = false;
};

if (region && typeof window.EventSource === "function") {
  const url = new URL(region.dataset.stream, window.location.href);
  if (region.dataset.after) {
    url.searchParams.set("after", region.dataset.after);
  }
  const source = new EventSource(url);
  source.addEventListener("changed", (event) => {
    let change = "updated";
    try {
      change = JSON.parse(event.data).change;
    } catch {
      // An event we cannot read still means something changed.
    }
    show(change);
  });
}
