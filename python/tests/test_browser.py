"""The demo page in headless Chromium (Debian's chromium + chromium-driver, Selenium from
python3-selenium): load it from a real `facekit serve`, upload a photo, wait for the drawing,
check the face count and the drawing, and take the screenshot docs/images/serve-demo.png."""
import json
import shutil
import time

import pytest

from conftest import ROOT, FACES

selenium = pytest.importorskip("selenium", reason="python3-selenium is not installed (scripts/setup.sh installs it)")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SCREENSHOT = ROOT / "docs" / "images" / "serve-demo.png"
PHOTO = FACES / "couple.jpg"


@pytest.fixture
def browser():
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000",
              "--hide-scrollbars", "--no-first-run", "--disable-extensions", "--force-device-scale-factor=1"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
    d.set_page_load_timeout(60)
    yield d
    d.quit()


def test_demo_page_draws_the_faces(start_server, browser):
    import http.client
    server = start_server()
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    c.request("POST", "/v1/landmarks", PHOTO.read_bytes(), {"Content-Type": "image/jpeg"})
    expected = json.loads(c.getresponse().read())["faces"]
    c.close()
    assert len(expected) >= 2

    t0 = time.monotonic()
    browser.get(server.url + "/")
    assert browser.title == "facekit demo"
    file_input = browser.find_element(By.ID, "file")
    browser.execute_script("arguments[0].style.cssText = 'position: static; opacity: 1; width: 200px; height: 20px';", file_input)
    file_input.send_keys(str(PHOTO))
    browser.execute_script("arguments[0].style.cssText = '';", file_input)
    WebDriverWait(browser, 60).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") in ("done", "error"))
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "done", browser.find_element(By.ID, "status").text
    shown = int(browser.find_element(By.ID, "face-count").text)
    assert shown == len(expected)

    # The canvas holds the photo at its size, with the boxes drawn: the middle of each box's left
    # edge is the box green, and the JSON beside it has the faces.
    w, h = browser.execute_script("const c = document.getElementById('canvas'); return [c.width, c.height];")
    img_w, img_h = browser.execute_script("return [document.querySelector('canvas').width, document.querySelector('canvas').height];")
    assert (w, h) == (img_w, img_h) and w > 100
    for f in expected:
        x1, y1, x2, y2 = f["box"]
        r, g, b, _ = browser.execute_script(
            "return Array.from(document.getElementById('canvas').getContext('2d').getImageData(arguments[0], arguments[1], 1, 1).data);",
            round(x1), round((y1 + y2) / 2))
        assert g > 180 and r < 80 and b < 140, (r, g, b)
    assert len(json.loads(browser.find_element(By.ID, "json").get_attribute("data-full"))["faces"]) == len(expected)
    # The round-trip time is the one thing that differs from run to run: blanked, so the committed
    # screenshot changes only when the page or the results do.
    browser.execute_script("document.getElementById('timing').textContent = '';")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
    print(f"\n[browser] {PHOTO.name}: {shown} faces drawn in {time.monotonic() - t0:.1f} s; screenshot {SCREENSHOT.relative_to(ROOT)}")
