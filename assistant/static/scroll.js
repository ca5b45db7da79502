() => {
  const scroll = () => {
    const panel = document.querySelector('#doc-panel');
    const body = panel && panel.querySelector('.doc-body');
    const hit = body && body.querySelector('.ln.hl');
    if (!hit) return false;
    body.scrollTop = hit.offsetTop - body.offsetTop - body.clientHeight / 4;
    const seen = hit.getBoundingClientRect();
    if (seen.top < 0 || seen.top > window.innerHeight - 60) panel.scrollIntoView({ block: 'start' });
    return true;
  };
  let tries = 0;
  const again = () => { if (!scroll() && ++tries < 20) setTimeout(again, 50); };
  setTimeout(again, 20);
}
