/* The portal's payment-method page: Stripe.js collects the card (an Element) or the IBAN and
   confirms a SetupIntent made by our server; the SetupIntent id is then posted back to us, and
   the server reads the saved method from Stripe. Card numbers never reach our server. */
(function () {
  "use strict";
  var form = document.getElementById("payment-method-form");
  if (!form || typeof Stripe === "undefined") return;
  var stripe = Stripe(form.dataset.publishableKey);
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  var errorBox = document.getElementById("stripe-error");
  var button = document.getElementById("save-method");

  function kind() {
    var checked = form.querySelector("input[name=kind]:checked");
    return checked ? checked.value : "card";
  }
  function showError(message) {
    errorBox.textContent = message || "The payment method could not be saved.";
    errorBox.hidden = false;
    button.disabled = false;
  }
  form.querySelectorAll("input[name=kind]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      var sepa = kind() === "sepa_debit";
      document.getElementById("card-field").hidden = sepa;
      document.getElementById("iban-field").hidden = !sepa;
    });
  });
  function csrfToken() {
    return form.querySelector("input[name=csrfmiddlewaretoken]").value;
  }

  form.addEventListener("submit", async function (event) {
    if (document.getElementById("setup-intent").value) return; // confirmed: post it
    event.preventDefault();
    errorBox.hidden = true;
    button.disabled = true;
    var response = await fetch(form.dataset.setupUrl, {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
    });
    var body = await response.json().catch(function () { return {}; });
    if (!response.ok || !body.client_secret) return showError(body.error);
    var name = document.getElementById("holder-name").value;
    var result;
    if (kind() === "sepa_debit") {
      result = await stripe.confirmSepaDebitSetup(body.client_secret, {
        payment_method: {
          sepa_debit: { iban: document.getElementById("iban").value.replace(/\s+/g, "") },
          billing_details: { name: name, email: form.dataset.email || undefined },
        },
      });
    } else {
      result = await stripe.confirmCardSetup(body.client_secret, {
        payment_method: { card: card, billing_details: { name: name } },
      });
    }
    if (result.error) return showError(result.error.message);
    document.getElementById("setup-intent").value = result.setupIntent.id;
    form.submit();
  });
})();
