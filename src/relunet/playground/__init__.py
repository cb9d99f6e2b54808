"""The playground: a local web page that trains a network with relunet's engine and shows
it learning (``relunet playground``).

* :mod:`relunet.playground.settings`: the page's settings, checked, and what they build;
  the ``relunet train`` command and the Python snippet that reproduce a run;
* :mod:`relunet.playground.session`: one page's data, network and run, its views, and
  the bounded set of sessions of a server;
* :mod:`relunet.playground.server`: the HTTP server (standard library), local only;
* ``static/``: the page (plain HTML, JavaScript and CSS, shipped with the package).
"""
