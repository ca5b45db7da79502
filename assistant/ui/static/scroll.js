() => {
  const scroll = () => {
    const panel = document.querySelector('#doc-panel');
    const hit = panel && panel.querySelector('.doc-body .ln.hl');
    if (!hit || !window.__docToHighlight) return false;
    window.__docToHighlight();
    const seen = hit.getBoundingClientRect();
    if (seen.top < 0 || seen.top > window.innerHeight - 60) {
      const body = panel.querySelector('.doc-body');
      // on a phone the panel does not scroll on its own: the page brings the cited line into view
      if (body.scrollHeight > body.clientHeight) panel.scrollIntoView({ block: 'start' });
      else hit.scrollIntoView({ block: 'center' });
    }
    return true;
  };
  let tries = 0;
  const again = () => { if (!scroll() && ++tries < 20) setTimeout(again, 50); };
  setTimeout(again, 20);
}
