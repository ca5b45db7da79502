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

  // The document panel keeps its highlighted line in view when the window (or the panel) changes size.
  window.__docToHighlight = () => {
    const body = document.querySelector('#doc-panel .doc-body');
    const hit = body && body.querySelector('.ln.hl');
    if (!hit) return false;
    if (body.scrollHeight > body.clientHeight) {
      body.scrollTop = hit.offsetTop - body.offsetTop - body.clientHeight / 4;
    }
    return true;
  };
  let resized = null;
  window.addEventListener('resize', () => {
    clearTimeout(resized);
    resized = setTimeout(window.__docToHighlight, 150);
  });

  // Kept in step with what Gradio renders, on every change of the page:
  // - each message's aria-label is its text, not the HTML it is made of;
  // - the closed settings sidebar is inert, so Tab does not walk into it;
  // - a new question is scrolled into view, even when the chat was scrolled up.
  let questions = 0;
  const tidy = () => {
    for (const el of document.querySelectorAll('#chat [aria-label*="<"]')) {
      const who = (el.getAttribute('aria-label').match(/^[^:]*: /) || ["bot's message: "])[0];
      el.setAttribute('aria-label', who + el.innerText.replace(/\s+/g, ' ').trim().slice(0, 300));
    }
    const sidebar = document.querySelector('.sidebar');
    const content = sidebar && sidebar.querySelector('.sidebar-content');
    if (content) content.inert = !sidebar.classList.contains('open');
    const rows = document.querySelectorAll('#chat .user-row');
    if (rows.length > questions) {
      const last = rows[rows.length - 1];
      setTimeout(() => last.scrollIntoView({ block: 'center' }), 30);
    }
    questions = rows.length;
  };
  new MutationObserver(tidy).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['aria-label', 'class'],
  });
}
