// The imgpipe upload page: the public HTTP API (docs/openapi.yaml) and presigned URLs, nothing else.
//
// For each file: GET /upload-url -> PUT the bytes to the presigned URL (XMLHttpRequest, for upload
// progress) -> poll GET /images/{id} until COMPLETE or FAILED -> GET /images/{id}/execution for the
// workflow's steps.  The API URL and key are remembered in localStorage; an ID token (auth "jwt")
// only in sessionStorage: it is a credential that expires within the hour anyway.
"use strict";

const STORAGE_KEYS = { apiUrl: "imgpipe.apiUrl", apiKey: "imgpipe.apiKey", idToken: "imgpipe.idToken" };
const POLL_FIRST_MS = 250;
const POLL_MAX_MS = 2000;
// An Express execution lives at most 5 minutes; the API reports a record stuck past that (plus a
// grace period) as FAILED with PROCESSING_TIMEOUT, so the page never needs to wait longer than this.
const POLL_DEADLINE_MS = 6 * 60 * 1000;
// On AWS the execution's steps are read back from CloudWatch Logs, delivered a few seconds late.
const HISTORY_ATTEMPTS = 15;
const HISTORY_INTERVAL_MS = 2000;
// EXPIRED: the upload URL expired and no upload arrived in time (docs/openapi.yaml, Image.status).
const TERMINAL = new Set(["COMPLETE", "FAILED", "EXPIRED"]);

// What the page adds to an error code in words.  A FAILED image's message comes from the API (one
// fixed sentence per code, docs/openapi.yaml); these are the errors met before there is an image:
// the API refusing the request, the gateway refusing the key, the browser or the bucket refusing the PUT.
const EXPLANATIONS = {
  UNSUPPORTED_CONTENT_TYPE: "The API refuses this kind of file before upload (its declared type is not an image).",
  INVALID_SIZE: "The API refused the file's size.",
  INVALID_FILENAME: "The API refused the file's name.",
  INVALID_REQUEST: "The API refused the request.",
  IMAGE_TOO_LARGE: "The file is over the pipeline's limits.",
  FORBIDDEN: "The API refused the request: the API key is missing or wrong.",
  UNAUTHORIZED: "The API refused the request: the ID token is missing, expired or not for this API.",
  UPLOAD_REFUSED: "Storage refused the upload.",
  UPLOAD_BLOCKED: "The browser could not send the file: a network error, or the bucket's CORS rules do not allow this page's origin.",
  API_UNREACHABLE: "The API could not be reached: check the API URL, and that the API allows this page's origin (CORS).",
  GAVE_UP_WAITING: "The page stopped waiting for a result.",
  EXPIRED: "The upload URL expired before the upload reached the bucket.",
};

// EXIF orientation (1-8) in words; the renditions are always shown upright.
const ORIENTATIONS = {
  1: "upright",
  2: "mirrored",
  3: "rotated 180°",
  4: "mirrored, rotated 180°",
  5: "mirrored, rotated 90° clockwise",
  6: "rotated 90° clockwise",
  7: "mirrored, rotated 90° counter-clockwise",
  8: "rotated 90° counter-clockwise",
};

class Failure extends Error {
  constructor(code, message) {
    super(message || EXPLANATIONS[code] || code);
    this.code = code;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- connection settings ------------------------------------------------------------------------
const apiUrlField = document.getElementById("api-url");
const apiKeyField = document.getElementById("api-key");
const tokenField = document.getElementById("id-token");

function loadConnection() {
  apiUrlField.value = localStorage.getItem(STORAGE_KEYS.apiUrl) || window.location.origin;
  apiKeyField.value = localStorage.getItem(STORAGE_KEYS.apiKey) || "";
  tokenField.value = sessionStorage.getItem(STORAGE_KEYS.idToken) || "";
}

function saveConnection() {
  localStorage.setItem(STORAGE_KEYS.apiUrl, apiUrlField.value.trim());
  localStorage.setItem(STORAGE_KEYS.apiKey, apiKeyField.value.trim());
  sessionStorage.setItem(STORAGE_KEYS.idToken, tokenField.value.trim());
}

function connection() {
  return {
    base: apiUrlField.value.trim().replace(/\/+$/, ""),
    key: apiKeyField.value.trim(),
    token: tokenField.value.trim(),
  };
}

// ---- the API ------------------------------------------------------------------------------------
async function apiGet(path) {
  const { base, key, token } = connection();
  // Only the credentials there are: a GET without them needs no CORS preflight.
  const headers = {};
  if (key) headers["x-api-key"] = key;
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(base + path, { headers, cache: "no-store" });
  } catch (error) {
    throw new Failure("API_UNREACHABLE");
  }
  let body = {};
  try {
    body = await response.json();
  } catch (error) {
    body = {};
  }
  if (!response.ok) {
    const error = body.error || {};
    // API Gateway answers a missing or wrong key (403) or token (401) itself, as {"message": ...}.
    const gateway = { 401: "UNAUTHORIZED", 403: "FORBIDDEN" }[response.status];
    const code = error.code || gateway || `HTTP_${response.status}`;
    throw new Failure(code, error.message || body.message || `HTTP ${response.status}`);
  }
  return body;
}

function s3Error(xhr) {
  const xml = xhr.responseXML || new DOMParser().parseFromString(xhr.responseText || "", "application/xml");
  const text = (tag) => xml.getElementsByTagName(tag)[0]?.textContent || "";
  const code = text("Code");
  return new Failure("UPLOAD_REFUSED", `HTTP ${xhr.status}${code ? ` ${code}` : ""}: ${text("Message") || "refused"}`);
}

// PUT with exactly the headers the API returned: the URL signs them.  XMLHttpRequest rather than
// fetch, because only XMLHttpRequest reports upload progress.
function upload(grant, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(grant.method || "PUT", grant.uploadUrl);
    for (const [name, value] of Object.entries(grant.headers || {})) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    xhr.addEventListener("load", () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(s3Error(xhr))));
    xhr.addEventListener("error", () => reject(new Failure("UPLOAD_BLOCKED")));
    xhr.addEventListener("abort", () => reject(new Failure("UPLOAD_BLOCKED", "The upload was aborted.")));
    xhr.send(file);
  });
}

async function waitForResult(imageId, onStatus) {
  const deadline = Date.now() + POLL_DEADLINE_MS;
  let delay = POLL_FIRST_MS;
  for (;;) {
    const image = await apiGet(`/images/${imageId}`);
    onStatus(image.status);
    if (TERMINAL.has(image.status)) return image;
    if (Date.now() > deadline) throw new Failure("GAVE_UP_WAITING", `Still ${image.status} after ${POLL_DEADLINE_MS / 60000} minutes.`);
    await sleep(delay);
    delay = Math.min(delay * 1.5, POLL_MAX_MS);
  }
}

// ---- rendering ----------------------------------------------------------------------------------
const list = document.getElementById("uploads");
const template = document.getElementById("upload-template");

function formatBytes(bytes) {
  if (bytes == null) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function formatMs(ms) {
  if (ms == null) return "–";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function element(tag, properties = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, properties);
  node.append(...children);
  return node;
}

class UploadCard {
  constructor(file) {
    this.node = template.content.firstElementChild.cloneNode(true);
    this.find(".filename").textContent = file.name;
    this.find(".size").textContent = formatBytes(file.size);
    list.prepend(this.node);
    this.setStatus("REQUESTING", "requesting an upload URL…");
  }

  find(selector) {
    return this.node.querySelector(selector);
  }

  setStatus(status, text) {
    this.node.dataset.status = status;
    this.find(".status").textContent = text || status;
  }

  progress(loaded, total) {
    const bar = this.find(".progress");
    bar.max = total;
    bar.value = loaded;
    this.node.dataset.uploadedBytes = String(loaded);
    this.setStatus("UPLOADING", `uploading ${Math.round((100 * loaded) / total)}%`);
  }

  fail(code, message) {
    this.setStatus("FAILED", "failed");
    const box = this.find(".failure");
    box.hidden = false;
    box.querySelector(".code").textContent = code;
    const explanation = EXPLANATIONS[code] || "";
    box.querySelector(".explanation").textContent = explanation === message ? "" : explanation;
    box.querySelector(".message").textContent = message || "";
  }

  showFacts(image) {
    const original = image.original;
    if (!original) return;
    const facts = this.find(".facts");
    const add = (name, label, value) => {
      if (value === undefined || value === null || value === "") return;
      facts.append(element("dt", { textContent: label }), element("dd", { textContent: value, className: `fact-${name}` }));
    };
    add("format", "format", `${original.format}${original.mime ? ` (${original.mime})` : ""}`);
    add("dimensions", "size", `${original.width} × ${original.height} px, ${formatBytes(original.bytes)}`);
    if (original.orientation) {
      add("orientation", "orientation", `${ORIENTATIONS[original.orientation] || "unknown"} (EXIF ${original.orientation})`);
    }
    if (original.frames) add("frames", "frames", `${original.frames}${original.animated ? " (animated)" : ""}`);
    if (original.has_alpha !== undefined) add("alpha", "transparency", original.has_alpha ? "yes" : "no");
    if (image.upload) add("declared", "declared as", `${image.upload.declaredType}, ${formatBytes(image.upload.declaredSize)}`);
    facts.hidden = facts.children.length === 0;
  }

  showRenditions(renditions) {
    const holder = this.find(".renditions");
    for (const r of renditions || []) {
      const image = element("img", { src: r.url, alt: `${r.name} rendition, ${r.width} × ${r.height}` });
      image.referrerPolicy = "no-referrer";
      const link = element("a", { href: r.url, target: "_blank", rel: "noopener noreferrer" }, image);
      const caption = element(
        "figcaption",
        { textContent: `${r.name} · ${r.width} × ${r.height} · ${r.format} · ${formatBytes(r.bytes)}` },
      );
      holder.append(element("figure", { className: `rendition rendition-${r.name}` }, link, caption));
    }
  }

  showExecution(execution, note) {
    const box = this.find(".execution");
    box.hidden = false;
    box.dataset.status = execution ? execution.status : "UNAVAILABLE";
    this.find(".execution-note").textContent = note || "";
    if (!execution) return;
    const total = execution.durationMs != null ? ` in ${formatMs(execution.durationMs)}` : "";
    this.find(".execution-status").textContent = `${execution.status}${total}`;
    const rows = this.find(".execution tbody");
    rows.replaceChildren();
    for (const step of execution.steps || []) {
      const errors = (step.errors || []).join(", ");  // one public code per failed attempt
      const row = element(
        "tr",
        { className: `step step-${step.status.toLowerCase()}` },
        element("td", { textContent: step.name, className: "step-name" }),
        element("td", { textContent: step.type }),
        element("td", { textContent: step.status, className: "step-status" }),
        element("td", { textContent: formatMs(step.durationMs), className: "step-duration" }),
        element("td", { textContent: String(step.retries), className: "step-retries" }),
        element("td", { textContent: errors, className: "step-errors" }),
      );
      rows.append(row);
    }
  }
}

// ---- one file, start to finish ------------------------------------------------------------------
async function loadExecution(card, imageId) {
  for (let attempt = 1; attempt <= HISTORY_ATTEMPTS; attempt += 1) {
    let execution;
    try {
      execution = await apiGet(`/images/${imageId}/execution`);
    } catch (error) {
      card.showExecution(null, `Steps not available: ${error.message}`);
      return;
    }
    // The image is final, so a RUNNING execution is one whose end has not been logged yet (AWS).
    const complete = execution.status !== "RUNNING";
    card.showExecution(execution, complete ? "" : "waiting for the execution's log…");
    if (complete) return;
    await sleep(HISTORY_INTERVAL_MS);
  }
  card.find(".execution-note").textContent = "The execution's log is incomplete; try again later.";
}

async function handleFile(file) {
  const card = new UploadCard(file);
  let image;
  try {
    const type = file.type || "application/octet-stream";
    const query = new URLSearchParams({ filename: file.name, contentType: type, size: String(file.size) });
    const grant = await apiGet(`/upload-url?${query}`);
    card.node.dataset.imageId = grant.imageId;
    card.setStatus("UPLOADING", "uploading 0%");
    await upload(grant, file, (loaded, total) => card.progress(loaded, total));
    card.setStatus("UPLOADED", "uploaded; waiting for the pipeline…");
    // The card turns COMPLETE or FAILED only once everything about the result is on it.
    image = await waitForResult(grant.imageId, (status) => {
      if (!TERMINAL.has(status)) card.setStatus(status, status.toLowerCase().replace("_", " ") + "…");
    });
  } catch (error) {
    card.fail(error.code || "ERROR", error.code ? error.message : String(error));
    return;
  }
  card.showFacts(image);
  if (image.status === "COMPLETE") {
    card.showRenditions(image.renditions);
    card.setStatus("COMPLETE", "complete");
    await loadExecution(card, image.imageId);
  } else if (image.status === "FAILED") {
    const error = image.error || {};
    card.fail(error.code || "FAILED", error.message);
    await loadExecution(card, image.imageId);
  } else {
    card.fail(image.status, EXPLANATIONS[image.status]);
  }
}

function handleFiles(files) {
  saveConnection();
  for (const file of files) handleFile(file);
}

// ---- wiring -------------------------------------------------------------------------------------
loadConnection();
document.getElementById("connection").addEventListener("change", saveConnection);
document.getElementById("connection").addEventListener("submit", (event) => event.preventDefault());

const picker = document.getElementById("files");
picker.addEventListener("change", () => {
  handleFiles([...picker.files]);
  picker.value = "";
});

const dropZone = document.getElementById("drop-zone");
for (const type of ["dragenter", "dragover"]) {
  dropZone.addEventListener(type, (event) => {
    event.preventDefault();
    dropZone.classList.add("dragging");
  });
}
for (const type of ["dragleave", "drop"]) {
  dropZone.addEventListener(type, () => dropZone.classList.remove("dragging"));
}
dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  handleFiles([...event.dataTransfer.files]);
});
