// The upload flow of docs/openapi.yaml with nothing but fetch, from an origin that is neither the
// API's nor the bucket's: GET an upload URL, PUT the bytes with exactly the returned headers (a
// CORS preflight, since Content-Type image/jpeg and If-None-Match are not CORS-safelisted), poll
// the image until it is final, then show a rendition as an <img>.
"use strict";

async function rawFlow(apiUrl, apiKey, base64Jpeg, deadlineMs) {
  const headers = apiKey ? { "x-api-key": apiKey } : {};
  const bytes = Uint8Array.from(atob(base64Jpeg), (c) => c.charCodeAt(0));
  const query = new URLSearchParams({ filename: "other-origin.jpg", contentType: "image/jpeg", size: String(bytes.length) });

  const grantResponse = await fetch(`${apiUrl}/upload-url?${query}`, { headers });
  const grant = await grantResponse.json();
  if (!grantResponse.ok) return { step: "upload-url", status: grantResponse.status, body: grant };

  let put;
  try {
    put = await fetch(grant.uploadUrl, { method: grant.method, headers: grant.headers, body: bytes });
  } catch (error) {
    return { step: "put", error: String(error) };  // what a failed preflight looks like to a page
  }
  if (!put.ok) return { step: "put", status: put.status, body: await put.text() };

  const deadline = Date.now() + deadlineMs;
  let image;
  for (;;) {
    const response = await fetch(`${apiUrl}/images/${grant.imageId}`, { headers });
    image = await response.json();
    if (image.status === "COMPLETE" || image.status === "FAILED") break;
    if (Date.now() > deadline) return { step: "poll", image };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (image.status !== "COMPLETE") return { step: "result", image };

  const rendition = image.renditions[image.renditions.length - 1];
  const img = document.createElement("img");
  const loaded = new Promise((resolve, reject) => {
    img.onload = resolve;
    img.onerror = () => reject(new Error("the rendition did not load"));
  });
  img.src = rendition.url;
  document.getElementById("rendition").append(img);
  await loaded;
  return { step: "done", uploadUrl: grant.uploadUrl, putStatus: put.status, image, rendition, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight };
}
