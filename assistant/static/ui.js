() => {
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a[href^="#cite-"], a[href^="#passage-"]');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const box = document.querySelector('#doc-request textarea');
    const go = document.querySelector('#doc-request-go');
    if (!box || !go) return;
    box.value = link.getAttribute('href').slice(1) + '@' + Date.now();
    box.dispatchEvent(new Event('input', { bubbles: true }));
    setTimeout(() => go.click(), 30);
  }, true);
  if (window.innerWidth > 900) {
    const focus = (tries) => {
      const box = document.querySelector('#question textarea');
      if (box) box.focus(); else if (tries > 0) setTimeout(() => focus(tries - 1), 100);
    };
    focus(30);
  }
}
