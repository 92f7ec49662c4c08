// Shared behaviour: tell the user when an htmx request fails instead of failing silently.
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  const message = status === 403
    ? "Not allowed, or the page has expired: reload it and try again."
    : `The server answered ${status}. Please try again.`;
  let banner = document.getElementById("request-error");
  if (!banner) {
    banner = document.createElement("p");
    banner.id = "request-error";
    banner.className = "alert alert-error toast";
    banner.setAttribute("role", "alert");
    document.body.appendChild(banner);
  }
  banner.textContent = message;
});
