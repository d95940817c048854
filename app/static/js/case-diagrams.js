// Draw each diagram on the case page with bpmn-js, outlining the current steps and shading
// the steps done. Without JavaScript the page lists the current steps instead.
(function () {
  if (!window.BpmnJS) { return; }
  document.querySelectorAll('.pw-diagram').forEach(async function (box) {
    var viewer = new window.BpmnJS({ container: box });
    var xml = await (await fetch(box.dataset.src, { credentials: 'same-origin' })).text();
    await viewer.importXML(xml);
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    canvas.zoom('fit-viewport');
    box.dataset.done.split(' ').filter(Boolean).forEach(function (id) {
      if (registry.get(id)) { canvas.addMarker(id, 'pw-done'); }
    });
    box.dataset.current.split(' ').filter(Boolean).forEach(function (id) {
      if (registry.get(id)) { canvas.addMarker(id, 'pw-current'); }
    });
    box.setAttribute('data-drawn', 'yes');
  });
})();
