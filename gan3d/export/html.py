"""A self-contained static HTML page of samples and turnable 3D meshes.

The page needs no server and no network: sample PNGs are embedded as data
URIs, each mesh as base64 float32 positions / uvs and uint32 indices plus
its texture as a PNG data URI, inside a `<script type="application/json">`
block. A small hand-written viewer (plain JavaScript, below) draws every
mesh on its own canvas with WebGL (textured, with a little Lambert shading so
the relief is visible), using the camera of `gan3d.render` (camera on +Z at
distance D, the unit ball fits the canvas); drag with the mouse (or a finger)
to change yaw and pitch. Without WebGL (e.g. a browser with GPU and software
GL disabled) it falls back to a 2D-canvas painter's-algorithm renderer with
flat-shaded triangles coloured from the texture. The mode in use is written
under each canvas and in `document.body.dataset.viewer`.
"""

from __future__ import annotations

import base64
import html as html_lib
import json
import os
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from gan3d.export import mesh_io
from gan3d.export import sheets


def png_data_uri(image) -> str:
  """[H, W, 3] float in [-1, 1] or uint8 -> 'data:image/png;base64,...'."""
  data = mesh_io.png_bytes(sheets.to_uint8(image))
  return 'data:image/png;base64,' + base64.b64encode(data).decode('ascii')


def mesh_payload(name: str, vertices, faces, uv, texture) -> Dict[str, object]:
  """JSON-ready dict of one textured mesh (compacted like the exporters)."""
  v, f, t = mesh_io.compact_mesh(vertices, faces, uv)
  b64 = lambda a: base64.b64encode(np.ascontiguousarray(a).tobytes()).decode('ascii')
  return {
      'name': str(name),
      'num_vertices': int(v.shape[0]),
      'num_faces': int(f.shape[0]),
      'positions': b64(v.astype('<f4')),
      'uvs': b64(t.astype('<f4')),
      'indices': b64(f.astype('<u4')),
      'texture': png_data_uri(mesh_io.texture_to_uint8(texture)),
  }


_STYLE = """
body { font-family: sans-serif; background: #f4f4f4; color: #222; margin: 16px; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; }
figure { margin: 0; background: #fff; padding: 4px; border: 1px solid #ccc; }
figure img { display: block; image-rendering: pixelated; }
figcaption { font-size: 12px; text-align: center; }
canvas { display: block; background: #202428; cursor: grab; touch-action: none; }
"""

_VIEWER_JS = r"""
(function () {
  'use strict';
  var DATA = JSON.parse(document.getElementById('gan3d-meshes').textContent);
  var D = DATA.camera_distance, F = Math.sqrt(D * D - 1.0);
  function b64(s, Type) {
    var bin = atob(s), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Type(bytes.buffer);
  }
  function rotation(yaw, pitch) {   // R = Rx(pitch) Ry(yaw), row-major 3x3
    var cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
    return [cy, 0, sy,  sp * sy, cp, -sp * cy,  -cp * sy, sp, cp * cy];
  }
  function vertexNormals(pos, idx) {
    var n = new Float32Array(pos.length);
    for (var t = 0; t < idx.length; t += 3) {
      var a = 3 * idx[t], b = 3 * idx[t + 1], c = 3 * idx[t + 2];
      var ux = pos[b] - pos[a], uy = pos[b + 1] - pos[a + 1], uz = pos[b + 2] - pos[a + 2];
      var vx = pos[c] - pos[a], vy = pos[c + 1] - pos[a + 1], vz = pos[c + 2] - pos[a + 2];
      var nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
      [a, b, c].forEach(function (k) { n[k] += nx; n[k + 1] += ny; n[k + 2] += nz; });
    }
    for (var i = 0; i < n.length; i += 3) {
      var l = Math.hypot(n[i], n[i + 1], n[i + 2]) || 1;
      n[i] /= l; n[i + 1] /= l; n[i + 2] /= l;
    }
    return n;
  }
  var VS = 'attribute vec3 aPos; attribute vec3 aNrm; attribute vec2 aUv;' +
    'uniform mat3 uRot; uniform float uD; uniform float uF;' +
    'varying vec2 vUv; varying vec3 vNrm;' +
    'void main() { vec3 p = uRot * aPos; float depth = uD - p.z;' +
    '  vNrm = uRot * aNrm; vUv = aUv;' +
    '  float zn = (depth - (uD - 3.0)) / 6.0 * 2.0 - 1.0;' +
    '  gl_Position = vec4(uF * p.x, uF * p.y, zn * depth, depth); }';
  var FS = 'precision mediump float; uniform sampler2D uTex;' +
    'varying vec2 vUv; varying vec3 vNrm;' +
    'void main() { vec3 n = normalize(vNrm);' +
    '  float shade = 0.45 + 0.55 * abs(dot(n, normalize(vec3(0.3, 0.4, 1.0))));' +
    '  vec4 c = texture2D(uTex, vUv); gl_FragColor = vec4(c.rgb * shade, 1.0); }';
  function compile(gl, type, src) {
    var s = gl.createShader(type); gl.shaderSource(s, src); gl.compileShader(s);
    if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
    return s;
  }
  function glViewer(canvas, mesh, gl) {
    var prog = gl.createProgram();
    gl.attachShader(prog, compile(gl, gl.VERTEX_SHADER, VS));
    gl.attachShader(prog, compile(gl, gl.FRAGMENT_SHADER, FS));
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(prog));
    gl.useProgram(prog);
    function attrib(name, data, size) {
      var buf = gl.createBuffer(); gl.bindBuffer(gl.ARRAY_BUFFER, buf);
      gl.bufferData(gl.ARRAY_BUFFER, data, gl.STATIC_DRAW);
      var loc = gl.getAttribLocation(prog, name);
      gl.enableVertexAttribArray(loc); gl.vertexAttribPointer(loc, size, gl.FLOAT, false, 0, 0);
    }
    attrib('aPos', mesh.pos, 3); attrib('aNrm', mesh.nrm, 3); attrib('aUv', mesh.uv, 2);
    var idx = mesh.idx, type = gl.UNSIGNED_INT;
    if (!gl.getExtension('OES_element_index_uint')) {
      if (mesh.pos.length / 3 > 65535) throw new Error('mesh too large for 16-bit indices');
      idx = new Uint16Array(mesh.idx); type = gl.UNSIGNED_SHORT;
    }
    var ib = gl.createBuffer(); gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, ib);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, idx, gl.STATIC_DRAW);
    var tex = gl.createTexture(); gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, 1, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE,
                  new Uint8Array([180, 180, 180, 255]));
    [gl.TEXTURE_WRAP_S, gl.TEXTURE_WRAP_T].forEach(function (p) {
      gl.texParameteri(gl.TEXTURE_2D, p, gl.CLAMP_TO_EDGE); });
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
    gl.enable(gl.DEPTH_TEST);
    var uRot = gl.getUniformLocation(prog, 'uRot');
    gl.uniform1f(gl.getUniformLocation(prog, 'uD'), D);
    gl.uniform1f(gl.getUniformLocation(prog, 'uF'), F);
    function draw(view) {
      var r = rotation(view.yaw, view.pitch);   // GLSL mat3 is column-major: pass R^T
      gl.uniformMatrix3fv(uRot, false, [r[0], r[3], r[6], r[1], r[4], r[7], r[2], r[5], r[8]]);
      gl.viewport(0, 0, canvas.width, canvas.height);
      gl.clearColor(0.125, 0.14, 0.157, 1); gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
      gl.drawElements(gl.TRIANGLES, idx.length, type, 0);
    }
    var img = new Image();
    img.onload = function () {
      gl.bindTexture(gl.TEXTURE_2D, tex);
      gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, img);
      mesh.redraw();
    };
    img.src = mesh.texture;
    return draw;
  }
  function canvasViewer(canvas, mesh) {   // fallback: painter's algorithm on a 2D canvas
    var ctx = canvas.getContext('2d'), texel = null, tw = 0, th = 0;
    var img = new Image();
    img.onload = function () {
      var c = document.createElement('canvas'); c.width = tw = img.width; c.height = th = img.height;
      var g = c.getContext('2d'); g.drawImage(img, 0, 0);
      texel = g.getImageData(0, 0, tw, th).data; mesh.redraw();
    };
    img.src = mesh.texture;
    return function draw(view) {
      var r = rotation(view.yaw, view.pitch), pos = mesh.pos, idx = mesh.idx, uv = mesh.uv;
      var n = pos.length / 3, sx = new Float32Array(n), sy = new Float32Array(n), sz = new Float32Array(n);
      var half = 0.5 * Math.min(canvas.width, canvas.height);
      for (var i = 0; i < n; i++) {
        var x = pos[3 * i], y = pos[3 * i + 1], z = pos[3 * i + 2];
        var px = r[0] * x + r[1] * y + r[2] * z, py = r[3] * x + r[4] * y + r[5] * z;
        var pz = r[6] * x + r[7] * y + r[8] * z, depth = D - pz;
        sx[i] = 0.5 * canvas.width + half * F * px / depth;
        sy[i] = 0.5 * canvas.height - half * F * py / depth; sz[i] = depth;
      }
      var order = [];
      for (var t = 0; t < idx.length; t += 3) order.push(t);
      order.sort(function (a, b) {
        return (sz[idx[b]] + sz[idx[b + 1]] + sz[idx[b + 2]]) - (sz[idx[a]] + sz[idx[a + 1]] + sz[idx[a + 2]]);
      });
      ctx.fillStyle = '#202428'; ctx.fillRect(0, 0, canvas.width, canvas.height);
      order.forEach(function (t) {
        var a = idx[t], b = idx[t + 1], c = idx[t + 2];
        var nm = mesh.nrm, nx = nm[3 * a] + nm[3 * b] + nm[3 * c];
        var ny = nm[3 * a + 1] + nm[3 * b + 1] + nm[3 * c + 1], nz = nm[3 * a + 2] + nm[3 * b + 2] + nm[3 * c + 2];
        var rx = r[0] * nx + r[1] * ny + r[2] * nz, ry = r[3] * nx + r[4] * ny + r[5] * nz;
        var rz = r[6] * nx + r[7] * ny + r[8] * nz, len = Math.hypot(rx, ry, rz) || 1;
        var shade = 0.45 + 0.55 * Math.abs((0.3 * rx + 0.4 * ry + rz) / (1.0863 * len));
        var col = [180, 180, 180];
        if (texel) {
          var u = (uv[2 * a] + uv[2 * b] + uv[2 * c]) / 3, v = (uv[2 * a + 1] + uv[2 * b + 1] + uv[2 * c + 1]) / 3;
          var k = 4 * (Math.min(th - 1, Math.floor(v * th)) * tw + Math.min(tw - 1, Math.floor(u * tw)));
          col = [texel[k], texel[k + 1], texel[k + 2]];
        }
        ctx.fillStyle = 'rgb(' + col.map(function (q) { return Math.round(q * shade); }).join(',') + ')';
        ctx.strokeStyle = ctx.fillStyle;
        ctx.beginPath(); ctx.moveTo(sx[a], sy[a]); ctx.lineTo(sx[b], sy[b]); ctx.lineTo(sx[c], sy[c]);
        ctx.closePath(); ctx.fill(); ctx.stroke();
      });
    };
  }
  var modes = [];
  DATA.meshes.forEach(function (m, k) {
    var canvas = document.getElementById('mesh-canvas-' + k);
    var mesh = { pos: b64(m.positions, Float32Array), uv: b64(m.uvs, Float32Array),
                 idx: b64(m.indices, Uint32Array), texture: m.texture };
    mesh.nrm = vertexNormals(mesh.pos, mesh.idx);
    var view = { yaw: DATA.initial_yaw, pitch: DATA.initial_pitch }, draw = null, mode = 'WebGL';
    mesh.redraw = function () { if (draw) draw(view); };
    try {
      var gl = canvas.getContext('webgl', { preserveDrawingBuffer: true, antialias: true });
      if (!gl) throw new Error('no WebGL');
      draw = glViewer(canvas, mesh, gl);
    } catch (e) {
      mode = '2D canvas fallback (' + e.message + ')';
      var fresh = canvas.cloneNode(false); canvas.parentNode.replaceChild(fresh, canvas); canvas = fresh;
      draw = canvasViewer(canvas, mesh);
    }
    document.getElementById('mesh-mode-' + k).textContent = mode;
    modes.push(mode.split(' ')[0]);
    var drag = null;
    canvas.addEventListener('pointerdown', function (e) {
      drag = { x: e.clientX, y: e.clientY, yaw: view.yaw, pitch: view.pitch };
      canvas.setPointerCapture(e.pointerId);
    });
    canvas.addEventListener('pointermove', function (e) {
      if (!drag) return;
      view.yaw = drag.yaw + (e.clientX - drag.x) * 0.01;
      view.pitch = Math.max(-1.5, Math.min(1.5, drag.pitch + (e.clientY - drag.y) * 0.01));
      mesh.redraw();
    });
    canvas.addEventListener('pointerup', function () { drag = null; });
    mesh.redraw();
  });
  document.body.dataset.viewer = modes.join(',');
})();
"""


def build_page(title: str, images: Sequence[Tuple[str, np.ndarray]],
               meshes: Sequence[Dict[str, object]], camera_distance: float = 4.0,
               canvas_size: int = 320, image_size: Optional[int] = None,
               initial_view: Tuple[float, float] = (0.5, 0.0)) -> str:
  """The page as a string.

  Args:
    title: page title.
    images: (caption, [H, W, 3] float in [-1, 1] or uint8) pairs, shown as a grid.
    meshes: `mesh_payload` dicts; each gets a `canvas_size` square canvas.
    camera_distance: D of the viewer's camera (as in gan3d.render).
    image_size: CSS display width of the sample images (default: native).
    initial_view: (yaw, pitch) radians before any drag.
  """
  if camera_distance <= 1.0:
    raise ValueError(f'camera_distance must be > 1, got {camera_distance}')
  esc = html_lib.escape
  parts = ['<!doctype html>\n<html><head><meta charset="utf-8">',
           f'<title>{esc(title)}</title><style>{_STYLE}</style></head>\n<body>',
           f'<h1>{esc(title)}</h1>']
  if images:
    parts.append('<h2>Samples</h2><div class="grid" id="samples">')
    for caption, img in images:
      width = f' width="{int(image_size)}"' if image_size else ''
      parts.append(f'<figure><img alt="{esc(caption)}"{width} src="{png_data_uri(img)}">'
                   f'<figcaption>{esc(caption)}</figcaption></figure>')
    parts.append('</div>')
  if meshes:
    parts.append('<h2>3D meshes (drag to rotate)</h2><div class="grid" id="meshes">')
    for k, m in enumerate(meshes):
      parts.append(f'<figure><canvas id="mesh-canvas-{k}" width="{canvas_size}" '
                   f'height="{canvas_size}"></canvas><figcaption>{esc(str(m["name"]))} '
                   f'({m["num_vertices"]} vertices, {m["num_faces"]} faces) - '
                   f'<span id="mesh-mode-{k}">loading</span></figcaption></figure>')
    parts.append('</div>')
  data = {'camera_distance': float(camera_distance), 'initial_yaw': float(initial_view[0]),
          'initial_pitch': float(initial_view[1]), 'meshes': list(meshes)}
  payload = json.dumps(data).replace('</', '<\\/')
  parts.append(f'<script type="application/json" id="gan3d-meshes">{payload}</script>')
  parts.append(f'<script>{_VIEWER_JS}</script>')
  parts.append('</body></html>\n')
  return '\n'.join(parts)


def write_page(path: str, title: str, images, meshes, **kwargs) -> str:
  """Writes `build_page(...)` to `path`. Returns the path."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, 'w', encoding='utf-8') as fh:
    fh.write(build_page(title, images, meshes, **kwargs))
  return path
