/* Desk tables like a spreadsheet: sort and filter by column, on any table that asks for it.

   <table data-table="sortable filterable">
     <thead><tr>
       <th data-sort="number|text|date">…</th>          a sortable column (and a filterable one)
       <th data-filter="select|text|none">…</th>        filter only (select: a list of the column's values)
     </tr></thead>
     <tbody>… rows …</tbody>                            several <tbody> (groups) are fine
   </table>

   - A cell's value is its data-sort-value when it has one, else its text. Numbers are read with their
     thousands separators ("6,446.03", "36%"); dates as YYYY-MM-DD. Empty values sort last.
   - Clicking a header sorts ascending, again descending, a third time restores the page's own order. While
     sorted, the rows of every <tbody> are shown as one list; group heading rows (data-table-group, or a row that
     is a single cell spanning the table) are hidden, and .tbl-group-label elements in the rows are shown.
   - The filter row (under the header) hides the rows that do not match: text columns by "contains", number and
     date columns also by ">10", "<=5", "=0", "2017-08-01..2017-08-31". A group heading is hidden when none of
     its rows is shown. A line above the table says how many rows are shown.
   - Without JavaScript the table is the server's table, complete and in its own order.
   Rows swapped by htmx (inline editing) keep their place; they are found again by their id. No inline code or
   styles (CSP): the look is in static/css/tables.css. */
(function () {
  "use strict";

  var collator = new Intl.Collator("zh-Hans-CN", { numeric: true, sensitivity: "base" });
  var NUMBER = /-?\d+(?:\.\d+)?/;
  var DATE = /\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?/;
  var COMPARE = /^(>=|<=|>|<|=|≥|≤)\s*(.+)$/;
  var RANGE = /^(.+?)\s*(?:\.\.|～|~)\s*(.+)$/;

  function cellText(cell) {
    return (cell ? cell.textContent : "").replace(/\s+/g, " ").trim();
  }

  function rawValue(cell) {
    if (!cell) return "";
    return cell.hasAttribute("data-sort-value") ? cell.getAttribute("data-sort-value") : cellText(cell);
  }

  function parse(type, text) {
    if (text === null || text === undefined) return null;
    text = String(text).trim();
    if (type === "number") {
      var match = text.replace(/[,，\s]/g, "").match(NUMBER);
      return match ? parseFloat(match[0]) : null;
    }
    if (type === "date") {
      var date = text.match(DATE);
      return date ? date[0] : null;
    }
    return text === "" || text === "–" ? null : text;
  }

  function isGroupRow(row) {
    if (row.hasAttribute("data-table-group")) return true;
    return row.cells.length === 1 && row.cells[0].colSpan > 1;
  }

  function Table(table) {
    this.table = table;
    var modes = (table.getAttribute("data-table") || "").split(/\s+/);
    this.sortable = modes.indexOf("sortable") >= 0;
    this.filterable = modes.indexOf("filterable") >= 0;
    var head = table.tHead;
    if (!head || !head.rows.length || !table.tBodies.length) return;
    this.headers = Array.prototype.slice.call(head.rows[head.rows.length - 1].cells);
    this.columns = this.headers.map(function (th, index) {
      var sort = th.getAttribute("data-sort");
      var filter = th.getAttribute("data-filter");
      return {
        index: index,
        th: th,
        label: cellText(th),
        sort: sort,
        filter: filter === "none" ? null : filter || (sort ? "text" : null),
      };
    });
    this.bodies = Array.prototype.slice.call(table.tBodies);
    this.bodies.forEach(function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        if (isGroupRow(row)) row.classList.add("tbl-group");
      });
    });
    this.origin = new Map(); // row id (or the row itself) -> [tbody index, position]
    this.rows().forEach(function (row, position) {
      this.origin.set(this.key(row), [this.bodies.indexOf(row.parentNode), position]);
    }, this);
    this.state = { column: null, direction: null };
    this.filters = {};
    if (this.sortable) this.makeSortable();
    if (this.filterable) this.makeFilterable();
    table.classList.add("tbl-ready");
    this.watchWidth();
    var help = table.getAttribute("aria-describedby");
    if (help && document.getElementById(help)) document.getElementById(help).hidden = false;
  }

  /* The sticky header needs a wrapper that is no scroll box (static/css/tables.css); when the table is wider than
     the wrapper all the same, the wrapper scrolls sideways again rather than the whole page. */
  Table.prototype.watchWidth = function () {
    var wrap = this.table.closest(".table-sticky-wrap");
    if (!wrap) return;
    var table = this.table;
    var check = function () {
      wrap.classList.remove("tbl-overflows");
      if (table.getBoundingClientRect().width > wrap.getBoundingClientRect().width + 1) wrap.classList.add("tbl-overflows");
    };
    check();
    window.addEventListener("resize", check);
  };

  Table.prototype.key = function (row) {
    return row.id || row;
  };

  /* The data rows in document order (group headings left out). */
  Table.prototype.rows = function () {
    var rows = [];
    Array.prototype.forEach.call(this.table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        if (!isGroupRow(row)) rows.push(row);
      });
    });
    return rows;
  };

  Table.prototype.makeSortable = function () {
    this.columns.forEach(function (column) {
      if (!column.sort) return;
      var th = column.th;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "tbl-sort";
      button.setAttribute("data-testid", "sort-button");
      while (th.firstChild) button.appendChild(th.firstChild);
      var mark = document.createElement("span");
      mark.className = "tbl-sort-mark";
      mark.setAttribute("aria-hidden", "true");
      button.appendChild(mark);
      button.title = "按“" + column.label + "”排序";
      th.appendChild(button);
      th.setAttribute("aria-sort", "none");
      button.addEventListener("click", this.toggle.bind(this, column));
    }, this);
  };

  Table.prototype.toggle = function (column) {
    var state = this.state;
    if (state.column !== column) {
      state.column = column;
      state.direction = "ascending";
    } else if (state.direction === "ascending") {
      state.direction = "descending";
    } else {
      state.column = null;
      state.direction = null;
    }
    this.columns.forEach(function (other) {
      if (other.sort) other.th.setAttribute("aria-sort", other === state.column ? state.direction : "none");
    });
    if (state.column) this.sort(state.column, state.direction === "descending" ? -1 : 1);
    else this.restore();
    this.applyFilters();
  };

  Table.prototype.sort = function (column, sign) {
    var type = column.sort;
    var origin = this.origin;
    var key = this.key.bind(this);
    var entries = this.rows().map(function (row, position) {
      var place = origin.get(key(row));
      return {
        row: row,
        value: parse(type, rawValue(row.cells[column.index])),
        order: place ? place[1] : 1e9 + position,
      };
    });
    entries.sort(function (a, b) {
      if (a.value === null || b.value === null) {
        if (a.value === null && b.value === null) return a.order - b.order;
        return a.value === null ? 1 : -1; // empty values last, either way
      }
      var diff;
      if (type === "number") diff = a.value - b.value;
      else if (type === "date") diff = a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
      else diff = collator.compare(a.value, b.value);
      return diff ? sign * diff : a.order - b.order;
    });
    var flat = this.flatBody();
    entries.forEach(function (entry) {
      flat.appendChild(entry.row);
    });
    this.table.classList.add("is-sorted");
  };

  /* The <tbody> that holds every row while the table is sorted (made once, after the page's own bodies). */
  Table.prototype.flatBody = function () {
    if (!this.flat) {
      this.flat = document.createElement("tbody");
      this.flat.className = "tbl-flat";
      this.flat.setAttribute("data-testid", "sorted-rows");
      var last = this.bodies[this.bodies.length - 1];
      last.parentNode.insertBefore(this.flat, last.nextSibling);
    }
    return this.flat;
  };

  Table.prototype.restore = function () {
    var origin = this.origin;
    var key = this.key.bind(this);
    var bodies = this.bodies;
    var placed = this.rows().map(function (row, position) {
      var place = origin.get(key(row)) || [0, 1e9 + position];
      return { row: row, body: place[0], order: place[1] };
    });
    placed.sort(function (a, b) {
      return a.order - b.order;
    });
    placed.forEach(function (entry) {
      (bodies[entry.body] || bodies[0]).appendChild(entry.row);
    });
    this.table.classList.remove("is-sorted");
  };

  Table.prototype.makeFilterable = function () {
    var filtered = this.columns.filter(function (column) {
      return column.filter;
    });
    if (!filtered.length) return;
    var row = document.createElement("tr");
    row.className = "tbl-filters";
    this.columns.forEach(function (column) {
      var cell = document.createElement("td");
      // Keep the header's responsive classes, so the filter row hides the same columns on a phone.
      column.th.className.split(/\s+/).forEach(function (name) {
        if (/^d-/.test(name)) cell.classList.add(name);
      });
      if (column.filter) cell.appendChild(this.filterInput(column));
      row.appendChild(cell);
    }, this);
    this.table.tHead.appendChild(row);
    // The filter row sticks just under the header row (static/css/tables.css).
    var table = this.table;
    var place = function () {
      table.style.setProperty("--tbl-filter-top", row.previousElementSibling.getBoundingClientRect().height + "px");
    };
    place();
    window.addEventListener("resize", place);
    this.status = document.createElement("p");
    this.status.className = "tbl-status small text-muted mb-1";
    this.status.setAttribute("aria-live", "polite");
    this.status.setAttribute("data-testid", "table-status");
    this.status.hidden = true;
    var anchor = this.table.closest(".table-responsive") || this.table;
    anchor.parentNode.insertBefore(this.status, anchor);
  };

  Table.prototype.filterInput = function (column) {
    var input;
    var label = "筛选：" + column.label;
    if (column.filter === "select") {
      input = document.createElement("select");
      input.className = "form-select form-select-sm";
      var values = {};
      this.rows().forEach(function (row) {
        var text = cellText(row.cells[column.index]);
        if (text) values[text] = true;
      });
      var all = document.createElement("option");
      all.value = "";
      all.textContent = "全部";
      input.appendChild(all);
      Object.keys(values)
        .sort(collator.compare)
        .forEach(function (text) {
          var option = document.createElement("option");
          option.value = text;
          option.textContent = text;
          input.appendChild(option);
        });
    } else {
      input = document.createElement("input");
      input.type = "search";
      input.className = "form-control form-control-sm";
      input.placeholder = { number: ">10", date: "<2017-09" }[column.sort] || "筛选";
      input.autocomplete = "off";
    }
    input.setAttribute("aria-label", label);
    input.setAttribute("data-testid", "column-filter");
    input.setAttribute("data-column", column.label);
    var self = this;
    input.addEventListener(column.filter === "select" ? "change" : "input", function () {
      self.filters[column.index] = { column: column, value: input.value.trim(), exact: column.filter === "select" };
      self.applyFilters();
    });
    return input;
  };

  /* A date (with a time) compared with a bound as long as the bound: "2017-08-31 10:00" <= "2017-08-31". */
  function cut(value, bound) {
    return typeof value === "string" ? value.slice(0, String(bound).length) : value;
  }

  function matches(filter, cell) {
    var wanted = filter.value;
    if (!wanted) return true;
    var text = cellText(cell);
    if (filter.exact) return text === wanted;
    var type = filter.column.sort;
    if (type === "number" || type === "date") {
      var value = parse(type, rawValue(cell));
      var compare = wanted.match(COMPARE);
      var range = !compare && wanted.match(RANGE);
      if (compare || range) {
        if (value === null) return false;
        if (range) {
          var low = parse(type, range[1]);
          var high = parse(type, range[2]);
          return (low === null || cut(value, low) >= low) && (high === null || cut(value, high) <= high);
        }
        var bound = parse(type, compare[2]);
        if (bound === null) return true;
        value = cut(value, bound);
        switch (compare[1]) {
          case ">":
            return value > bound;
          case "<":
            return value < bound;
          case ">=":
          case "≥":
            return value >= bound;
          case "<=":
          case "≤":
            return value <= bound;
          default:
            return value === bound;
        }
      }
    }
    return text.toLowerCase().indexOf(wanted.toLowerCase()) >= 0;
  }

  Table.prototype.applyFilters = function () {
    if (!this.filterable) return;
    var active = Object.keys(this.filters)
      .map(function (index) {
        return this.filters[index];
      }, this)
      .filter(function (filter) {
        return filter.value;
      });
    var rows = this.rows();
    var shown = 0;
    rows.forEach(function (row) {
      var ok = active.every(function (filter) {
        return matches(filter, row.cells[filter.column.index]);
      });
      row.hidden = !ok;
      if (ok) shown += 1;
    });
    // A group heading stays only while one of its rows is shown (and no filter hides them all).
    Array.prototype.forEach.call(this.table.tBodies, function (body) {
      var groups = [];
      var visible = false;
      Array.prototype.forEach.call(body.rows, function (row) {
        if (isGroupRow(row)) groups.push(row);
        else if (!row.hidden) visible = true;
      });
      groups.forEach(function (row) {
        row.hidden = active.length > 0 && !visible;
      });
    });
    if (this.status) {
      this.status.hidden = !active.length;
      this.status.textContent =
        "筛选后显示 " + shown + " / " + rows.length + " 行" + (this.table.tFoot ? "（合计仍按全部任务计算）" : "") + "。";
    }
  };

  function init(root) {
    Array.prototype.forEach.call((root || document).querySelectorAll("table[data-table]"), function (table) {
      if (!table.classList.contains("tbl-ready")) new Table(table);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { init(); });
  else init();
  // A table that htmx brings in (a filtered list) is set up too.
  document.addEventListener("htmx:afterSettle", function (event) {
    init(event.target && event.target.querySelectorAll ? event.target : document);
  });
})();
